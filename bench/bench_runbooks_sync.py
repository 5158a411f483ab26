"""sync_runbooks over 1,000 generated runbook files: cold (all new) and warm (unchanged).

Targets: warm re-sync of 1,000 unchanged files <= 1 s, cold <= 10 s.
Each engine runs in a child process against a throw-away database.

    python bench/bench_runbooks_sync.py                      # this working tree
    python bench/bench_runbooks_sync.py --baseline main --rounds 3 [--engine postgresql]
"""

import os
import random
import statistics
import sys
import time
from io import StringIO
from pathlib import Path

from _runbooks_common import (
    ROOT,
    baseline_arguments,
    engines_available,
    machine,
    met,
    report_results,
    run_child,
    runbook_markdown,
    setup_django,
    source_tree,
)

FILES = 1000
WARM_RUNS = 5
COLD_TARGET = 10.0
WARM_TARGET = 1.0


def child(engine: str) -> None:
    setup_django()
    from django.core.management import call_command

    from oncall.runbooks.models import Revision
    from oncall.runbooks.sync import sync_folders

    call_command("seed_demo", stdout=StringIO())  # teams, users and the sample runbooks
    folder = Path(os.environ["ONCALL_VAR_DIR"]) / "runbooks"
    rng = random.Random(1)
    for i in range(FILES):
        path = folder / f"svc{i % 25:02}" / f"Alert{i:04}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(runbook_markdown(i, rng), encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.rglob("*.md"))

    started = time.perf_counter()
    report = sync_folders([folder])
    cold = time.perf_counter() - started
    assert report.created == FILES and report.ok, report.summary()

    warm = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        report = sync_folders([folder])
        warm.append(time.perf_counter() - started)
        assert report.unchanged == FILES, report.summary()
    revisions = Revision.objects.count()

    changed = folder / "svc03" / "Alert0003.md"
    changed.write_text(changed.read_text() + "\nOne more line.\n", encoding="utf-8")
    started = time.perf_counter()
    report = sync_folders([folder])
    one_changed = time.perf_counter() - started
    assert report.updated == 1, report.summary()

    print(
        f"[{engine}] {FILES} files, {size / 1024:.0f} KiB of Markdown; "
        f"code from {os.environ.get('BENCH_SOURCE', ROOT)}"
    )
    print(
        f"[{engine}]   cold sync (all new)      {cold:6.2f} s   target <= {COLD_TARGET:g} s   "
        f"{met(cold, COLD_TARGET)}   ({cold / FILES * 1000:.1f} ms a file; {machine()})"
    )
    print(
        f"[{engine}]   warm re-sync (unchanged) {statistics.median(warm):6.3f} s   "
        f"target <= {WARM_TARGET:g} s   {met(statistics.median(warm), WARM_TARGET)}   "
        f"(median of {WARM_RUNS}; min {min(warm):.3f} s, max {max(warm):.3f} s)"
    )
    print(f"[{engine}]   re-sync with 1 changed   {one_changed:6.3f} s")
    print(
        f"[{engine}]   revisions after warm runs: {revisions} (no new revision for unchanged files)"
    )
    report_results({"cold": cold, "warm": statistics.median(warm), "one changed": one_changed})


def main(argv: list[str]) -> None:
    """Each round: the baseline's child, then this tree's, one engine at a time."""
    ref, rounds, engines = baseline_arguments(argv)
    print(__doc__.strip().splitlines()[0])
    print(f"({machine()})")
    engines = engines_available(engines)
    if ref is None:
        for engine in engines:
            for _round in range(rounds):
                run_child(__file__, engine)
        return
    with source_tree(ref) as baseline_source:
        for engine in engines:
            pairs = []
            for number in range(1, rounds + 1):
                print(f"[{engine}] round {number}: baseline ({ref}), then this tree")
                pairs.append(
                    (
                        run_child(__file__, engine, source=baseline_source),
                        run_child(__file__, engine),
                    )
                )
            for key, target in (
                ("cold", COLD_TARGET),
                ("warm", WARM_TARGET),
                ("one changed", None),
            ):
                before = [baseline[key] for baseline, _ in pairs]
                after = [current[key] for _, current in pairs]
                rounds_text = "  ".join(
                    f"{b:6.2f} -> {a:6.2f}" for b, a in zip(before, after, strict=True)
                )
                verdict = (
                    f"target <= {target:g} s   {met(statistics.median(after), target)} (median)"
                    if target
                    else ""
                )
                print(
                    f"[{engine}] {key:<12} s, baseline -> this tree: {rounds_text}   "
                    f"ratio of medians {statistics.median(after) / statistics.median(before):5.2f}   {verdict}"
                )
            print(f"[{engine}] ({machine()})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main(sys.argv[1:])
