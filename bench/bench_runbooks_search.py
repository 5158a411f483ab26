"""Runbook search over 10,000 runbooks: p50/p95 on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).

Queries: a selective word (3 runbooks), a common word (every runbook), a
partial alert name (1 runbook in 20), a Japanese word, and an exact alert name.
Target: p95 <= 20 ms on both engines. Each engine runs in a child process
against a throw-away database.
"""

import os
import random
import sys
import time

from _runbooks_common import (
    COMMON_WORD,
    PARTIAL_ALERT,
    SELECTIVE_WORD,
    alert_name,
    run_children,
    runbook_markdown,
    setup_django,
    summary_ms,
)

RUNBOOKS = 10_000
RUNS = 100
TEMPLATES = 40  # distinct rendered bodies; titles, alerts and words vary per runbook


def populate() -> None:
    """Insert RUNBOOKS runbooks with their search documents and alert names, in bulk.

    Rendering 10,000 files would measure the sync, not search: a few bodies
    are rendered and then varied per runbook (title, alert, rare words).
    """
    from django.db import connection, transaction

    from oncall.runbooks.models import AlertName, Runbook, SearchDocument
    from oncall.runbooks.render import render_markdown
    from oncall.runbooks.sync import split_front_matter
    from oncall.teams.models import Team

    team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
    rng = random.Random(2)
    # Template numbers from 100 on: none of them carries the selective word.
    bodies = [
        render_markdown(split_front_matter(runbook_markdown(100 + i, rng))[1]).text
        for i in range(TEMPLATES)
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
                docs.append(
                    SearchDocument(
                        runbook=r, title=r.title, alerts=r.alerts[0], tags="generated", body=body
                    )
                )
            SearchDocument.objects.bulk_create(docs)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE runbooks_searchdocument")
            cursor.execute("VACUUM ANALYZE runbooks_runbook")
            cursor.execute("VACUUM ANALYZE runbooks_alertname")
        else:
            cursor.execute(
                "INSERT INTO runbooks_search_fts(runbooks_search_fts) VALUES ('optimize')"
            )
            cursor.execute("ANALYZE")


def child(engine: str) -> None:
    setup_django()
    from django.db import connection

    from oncall.runbooks.search import search

    started = time.perf_counter()
    populate()
    print(
        f"[{engine}] {RUNBOOKS} runbooks loaded in {time.perf_counter() - started:.1f} s"
        f" (load average {os.getloadavg()[0]:.1f})"
    )
    queries = [
        ("selective word", SELECTIVE_WORD),
        ("common word", COMMON_WORD),
        ("partial alert name", PARTIAL_ALERT),
        ("partial, lower case", PARTIAL_ALERT.lower()),
        ("Japanese word", "証明書"),
        ("exact alert name", alert_name(4321)),
        ("two words", f"{COMMON_WORD} rollback"),
    ]
    for label, query in queries:
        hits = search(query)  # warm the caches
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            search(query)
            times.append(time.perf_counter() - started)
        print(f"[{engine}]   {label:<20} {query!r:<28} {len(hits):>3} hits   {summary_ms(times)}")
    connection.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        print(__doc__.strip().splitlines()[0])
        print(
            "(search() end to end: the ranked query, loading the hits, building snippets; 50 hits at most)"
        )
        run_children(__file__, ["sqlite", "postgresql"])
