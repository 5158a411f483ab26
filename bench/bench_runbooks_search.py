"""Runbook search over 10,000 runbooks: p50/p95 on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).

Queries: a selective word (3 runbooks), a common word (every runbook), a
partial alert name (1 runbook in 20), an exact alert name, two words, and
Japanese words of 1, 2, 3 and more characters (half the runbooks carry the
body of one of the Japanese sample runbooks), alone and with an English word.
Target: p95 <= 20 ms on both engines for every query. Each engine runs in a
child process against a throw-away database.

    python bench/bench_runbooks_search.py                      # this working tree
    python bench/bench_runbooks_search.py --baseline main --rounds 2 [--engine sqlite]
"""

import os
import random
import statistics
import sys
import time

from _runbooks_common import (
    COMMON_WORD,
    PARTIAL_ALERT,
    ROOT,
    SELECTIVE_WORD,
    alert_name,
    baseline_arguments,
    engines_available,
    machine,
    met,
    percentile,
    report_results,
    run_child,
    runbook_markdown,
    setup_django,
    source_tree,
    summary_ms,
)

RUNBOOKS = 10_000
RUNS = 100
TEMPLATES = 40  # distinct rendered bodies; titles, alerts and words vary per runbook
TARGET_MS = 20.0
JAPANESE_SAMPLES = [  # appended, in turn, to the body of every other runbook
    "payments-api/certificate-expiry.md",
    "payments-db/replication-lag.md",
    "platform/dns-resolution-failures.md",
    "payments-redis/redis-memory-high.md",
]
QUERIES = [  # (label, query); the label's first word groups the summary
    ("en selective word", SELECTIVE_WORD),
    ("en common word", COMMON_WORD),
    ("en partial alert name", PARTIAL_ALERT),
    ("en partial, lower case", PARTIAL_ALERT.lower()),
    ("en exact alert name", alert_name(4321)),
    ("en two words", f"{COMMON_WORD} rollback"),
    ("ja1 common", "の"),
    ("ja1", "障"),
    ("ja1 no match", "綾"),
    ("ja2", "期限"),
    ("ja2", "更新"),
    ("ja2", "障害"),
    ("ja2", "証明"),
    ("ja2 no match", "綾羅"),
    ("ja3", "証明書"),
    ("ja3 no match", "綾羅錦"),
    ("ja4+", "期限切れ"),
    ("ja4+ 13 chars", "証明書の期限切れが起きると"),
    ("ja4+ 20 chars", "遅延中は「決済したのに一覧に出てこない」"),
    ("mixed ja2 + en", "期限 certificate"),
    ("mixed ja2 + en", "障害 rollback"),
    ("mixed ja3 + en", "証明書 kubectl"),
]
GROUPS = {
    "ja1": "Japanese, 1 character",
    "ja2": "Japanese, 2 characters",
    "ja3": "Japanese, 3 characters",
    "ja4+": "Japanese, 4-20 characters",
    "mixed": "Japanese + English",
    "en": "English",
}


def populate() -> None:
    """Insert RUNBOOKS runbooks with their search documents and alert names, in bulk.

    Rendering 10,000 files would measure the sync, not search: a few bodies
    are rendered and then varied per runbook (title, alert, rare words).
    Every other runbook also carries a Japanese sample runbook's text. The
    search index rows are written as the sync of the code under test writes
    them.
    """
    from django.db import connection, transaction

    from oncall.runbooks.models import AlertName, Runbook, SearchDocument
    from oncall.runbooks.render import render_markdown
    from oncall.runbooks.sync import split_front_matter
    from oncall.teams.models import Team

    try:  # the CJK term index, where the code under test has one
        from oncall.runbooks.search import cjk_terms
    except ImportError:
        cjk_terms = None

    team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
    rng = random.Random(2)
    # Template numbers from 100 on: none of them carries the selective word.
    bodies = [
        render_markdown(split_front_matter(runbook_markdown(100 + i, rng))[1]).text
        for i in range(TEMPLATES)
    ]
    japanese = [
        render_markdown(
            split_front_matter((ROOT / "runbooks" / path).read_text(encoding="utf-8"))[1]
        ).text
        for path in JAPANESE_SAMPLES
    ]
    with transaction.atomic():
        for start in range(0, RUNBOOKS, 1000):
            runbooks = []
            for i in range(start, start + 1000):
                runbooks.append(
                    Runbook(
                        slug=f"svc{i % 50:02}/runbook-{i:05}",
                        title=f"Runbook {i} for {alert_name(i)[: -len(str(i))]}",
                        team=team,
                        service=f"svc{i % 50:02}",
                        alerts=[alert_name(i)],
                        tags=["generated"],
                    )
                )
            Runbook.objects.bulk_create(runbooks)
            runbooks = list(Runbook.objects.filter(slug__in=[r.slug for r in runbooks]))
            AlertName.objects.bulk_create(
                [AlertName(runbook=r, name=r.alerts[0], key=r.alerts[0].lower()) for r in runbooks]
            )
            docs = []
            for r in runbooks:
                i = int(r.slug.rsplit("-", 1)[1])
                body = bodies[i % TEMPLATES].replace(alert_name(100 + i % TEMPLATES), alert_name(i))
                if i in (7, 4242, 9001):
                    body += f" The {SELECTIVE_WORD} flag matters here."
                if i % 2:
                    body += "\n" + japanese[(i // 2) % len(japanese)]
                docs.append(
                    SearchDocument(
                        runbook=r, title=r.title, alerts=r.alerts[0], tags="generated", body=body
                    )
                )
            SearchDocument.objects.bulk_create(docs)
            if cjk_terms is not None:  # millions of rows: plain tuples, not model objects
                rows = [(t.runbook_id, t.term, t.found_in) for doc in docs for t in cjk_terms(doc)]
                if connection.vendor == "postgresql":
                    with connection.connection.cursor() as cursor:
                        sql = "COPY runbooks_searchterm (runbook_id, term, found_in) FROM STDIN"
                        with cursor.copy(sql) as copy:
                            for row in rows:
                                copy.write_row(row)
                else:
                    with connection.cursor() as cursor:
                        cursor.executemany(
                            "INSERT INTO runbooks_searchterm (runbook_id, term, found_in)"
                            " VALUES (%s, %s, %s)",
                            rows,
                        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute(
                "INSERT INTO runbooks_search_fts(runbooks_search_fts) VALUES ('optimize')"
            )
            cursor.execute("ANALYZE")


def storage() -> str:
    """How much room the database, and the CJK term index where there is one, take."""
    from django.db import connection

    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        terms = ""
        if "runbooks_searchterm" in tables:
            cursor.execute("SELECT count(*) FROM runbooks_searchterm")
            terms = f"{cursor.fetchone()[0]:,} CJK term rows"
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
            if terms:
                cursor.execute("SELECT pg_total_relation_size('runbooks_searchterm')")
                terms += f" ({cursor.fetchone()[0] / 2**20:.0f} MiB with indexes)"
        else:
            cursor.execute("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
            size = cursor.fetchone()[0]
    return f"database {size / 2**20:.0f} MiB" + (f"; {terms}" if terms else "")


def child(engine: str) -> None:
    setup_django()
    from django.db import connection

    from oncall.runbooks.search import search

    started = time.perf_counter()
    populate()
    print(
        f"[{engine}] {RUNBOOKS} runbooks loaded in {time.perf_counter() - started:.1f} s"
        f" ({machine()}); code from {os.environ.get('BENCH_SOURCE', ROOT)}"
    )
    print(f"[{engine}] {storage()}")
    results = {}
    for label, query in QUERIES:
        hits = search(query)  # warm the caches
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            search(query)
            times.append(time.perf_counter() - started)
        print(f"[{engine}]   {label:<22} {query!r:<26} {len(hits):>3} hits   {summary_ms(times)}")
        results[f"{label} {query}"] = {
            "p50": statistics.median(times) * 1000,
            "p95": percentile(times, 95) * 1000,
            "hits": len(hits),
        }
    print(f"[{engine}]   ({machine()})")
    report_results(results)
    connection.close()


def group_summary(engine: str, results: dict, baseline: dict | None) -> None:
    """The worst p95 of each group of queries, against the target (and the baseline)."""
    for prefix, name in GROUPS.items():
        keys = [key for key in results if key.split()[0] == prefix]
        worst = max(results[key]["p95"] for key in keys)
        line = f"[{engine}] {name:<27} worst p95 {worst:6.2f} ms   target <= {TARGET_MS:g} ms   {met(worst, TARGET_MS):<7}"
        if baseline:
            before = max(baseline[key]["p95"] for key in keys)
            line += f"   baseline {before:6.2f} ms   ratio {worst / before:5.2f}"
        print(line)


def compare(engine: str, rounds: list[tuple[dict, dict]]) -> None:
    """Per query: the baseline's and this tree's p95 in each round, the ratio, the target."""
    print(f"[{engine}] per query, p95 in ms (baseline -> this tree, each round), ratio of medians")
    for key in rounds[0][1]:
        before = [baseline[key]["p95"] for baseline, _ in rounds]
        after = [current[key]["p95"] for _, current in rounds]
        hits = f"{rounds[0][0][key]['hits']:>3} -> {rounds[0][1][key]['hits']:>3} hits"
        pairs = "  ".join(f"{b:6.2f} -> {a:6.2f}" for b, a in zip(before, after, strict=True))
        ratio = statistics.median(after) / statistics.median(before)
        print(
            f"[{engine}]   {key:<46} {hits}   {pairs}   ratio {ratio:5.2f}   "
            f"{met(max(after), TARGET_MS)}"
        )


def main(argv: list[str]) -> None:
    ref, rounds, engines = baseline_arguments(argv)
    print(__doc__.strip().splitlines()[0])
    print(
        "(search() end to end: the ranked query, loading the hits, building snippets; "
        f"50 hits at most; {machine()})"
    )
    engines = engines_available(engines)
    if ref is None:
        for engine in engines:
            for _round in range(rounds):
                group_summary(engine, run_child(__file__, engine), None)
        return
    with source_tree(ref) as baseline_source:
        for engine in engines:
            pairs = []
            for number in range(1, rounds + 1):
                print(f"[{engine}] round {number}: baseline ({ref}), then this tree")
                baseline = run_child(__file__, engine, source=baseline_source)
                current = run_child(__file__, engine)
                pairs.append((baseline, current))
            compare(engine, pairs)
            for number, (baseline, current) in enumerate(pairs, start=1):
                print(f"[{engine}] round {number} ({machine()}):")
                group_summary(engine, current, baseline)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main(sys.argv[1:])
