"""The cost of /metrics: a scrape's database reads as the outbox grows, and the
request-metrics middleware on every request.

1. Scrape: the whole /metrics answer (six queries and the text format) with
   1,000 and with 100,000 reminders, each beside a baseline run the same way
   on the same rows: one ``SELECT state, kind, COUNT(*) ... GROUP BY`` over
   the reminders table, the least a gauge of the outbox by state and kind can
   cost. "cold" is a scrape with an empty cache (the lateness histogram
   reads every sent row once); "warm" is every later scrape (it reads only
   the rows sent since the last one).
2. Requests: the sign-in page through the test client with and without the
   request-metrics middleware, alternated so load on the machine hits both.

Runs standalone (``python bench/bench_metrics.py``) against a database of its
own (an SQLite file, or a fresh PostgreSQL database next to DATABASE_URL's).
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import throwaway_database  # noqa: E402

SIZES = [1_000, int(os.environ.get("BENCH_METRICS_ROWS", "100000"))]
RUNS = 15
REQUESTS = 300
TOKEN = "bench-metrics-token-0123456789"


def median_ms(function, runs: int = RUNS) -> float:
    function()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    with throwaway_database("metrics"):
        os.environ["METRICS_TOKEN"] = TOKEN
        run()


def run() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from oncall.reminders.models import Reminder
    from oncall.runbooks.models import SyncRun
    from oncall.teams.models import Heartbeat

    setup_test_environment()
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}; load average {os.getloadavg()[0]:.2f}")

    users = [
        get_user_model().objects.create_user(f"bench{n}", f"bench{n}@example.com")
        for n in range(20)
    ]
    Heartbeat.objects.create(name="beat", at=timezone.now())
    now = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(
            folders=[f"/srv/runbooks-{n % 5}"],
            state="done",
            summary="failed 0",
            finished_at=now - timedelta(minutes=n),
        )
        for n in range(200)
    )
    kinds = Reminder.Kind.values
    client = Client()
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def scrape():
        response = client.get("/metrics", headers=auth)
        assert response.status_code == 200

    def cold_scrape():
        cache.clear()
        scrape()

    def count_rows():
        with connection.cursor() as cursor:
            cursor.execute("SELECT state, kind, COUNT(*) FROM reminders_reminder GROUP BY 1, 2")
            cursor.fetchall()

    made = 0
    print("rows      cold ms   warm ms   GROUP BY ms   cold ratio   warm ratio")
    for size in SIZES:
        rows = []
        for n in range(made, size):
            due = now - timedelta(minutes=n % 10_000)
            sent = n % 10 != 0  # nine in ten sent, the rest pending or failed
            rows.append(
                Reminder(
                    recipient=users[n % len(users)],
                    kind=kinds[n % len(kinds)],
                    channel="email",
                    due_at=due,
                    next_attempt_at=due,
                    dedupe_key=f"bench:{n}",
                    subject="bench",
                    state="sent" if sent else ("pending" if n % 20 else "failed"),
                    sent_at=due + timedelta(seconds=n % 400) if sent else None,
                )
            )
        Reminder.objects.bulk_create(rows, batch_size=2000)
        made = size
        if engine != "sqlite3":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE reminders_reminder")
        cold_ms = median_ms(cold_scrape)
        warm_ms = median_ms(scrape)
        count_ms = median_ms(count_rows)
        print(
            f"{size:>7,}   {cold_ms:7.1f}   {warm_ms:7.1f}   {count_ms:11.1f}   "
            f"{cold_ms / count_ms:9.1f}x   {warm_ms / count_ms:9.1f}x"
        )

    with_ms, without_ms = [], []
    plain = [m for m in settings.MIDDLEWARE if not m.endswith("RequestMetricsMiddleware")]
    for _ in range(REQUESTS):
        started = time.perf_counter()
        assert client.get("/accounts/login/").status_code == 200
        with_ms.append((time.perf_counter() - started) * 1000)
        with override_settings(MIDDLEWARE=plain):
            started = time.perf_counter()
            assert client.get("/accounts/login/").status_code == 200
            without_ms.append((time.perf_counter() - started) * 1000)
    with_p50, without_p50 = statistics.median(with_ms), statistics.median(without_ms)
    print(
        f"sign-in page p50: {with_p50:.2f} ms with request metrics, {without_p50:.2f} ms "
        f"without ({with_p50 / without_p50:.2f}x)"
    )


if __name__ == "__main__":
    main()
