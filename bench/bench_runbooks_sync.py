"""sync_runbooks over 1,000 generated runbook files: cold (all new) and warm (unchanged).

Targets: warm re-sync of 1,000 unchanged files <= 1 s, cold <= 10 s.
Each engine runs in a child process against a throw-away database.
"""

import os
import random
import statistics
import sys
import time
from io import StringIO
from pathlib import Path

from _runbooks_common import run_children, runbook_markdown, setup_django

FILES = 1000
WARM_RUNS = 5


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

    print(f"[{engine}] {FILES} files, {size / 1024:.0f} KiB of Markdown")
    print(
        f"[{engine}]   cold sync (all new)      {cold:6.2f} s   target <= 10 s   "
        f"({cold / FILES * 1000:.1f} ms a file)"
    )
    print(
        f"[{engine}]   warm re-sync (unchanged) {statistics.median(warm):6.3f} s   target <= 1 s   "
        f"(median of {WARM_RUNS}; min {min(warm):.3f} s, max {max(warm):.3f} s)"
    )
    print(f"[{engine}]   re-sync with 1 changed   {one_changed:6.3f} s")
    print(
        f"[{engine}]   revisions after warm runs: {revisions} (no new revision for unchanged files)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        print(__doc__.strip().splitlines()[0])
        run_children(__file__, ["sqlite", "postgresql"])
