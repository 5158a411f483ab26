"""Reading a rotation feed: one year of daily shifts rotating through 20 people.

The feed (365 PagerDuty-shaped events, ~90 of them inside the 90-day window)
is served by a real local HTTP server with an ETag. Measured, median of RUNS:

- the first read: fetch, parse, expand, store the shifts, reconcile a shadow
  plan of two weeks (and without a plan, for comparison);
- an unchanged re-read answered 304 (the server honours If-None-Match);
- an unchanged re-read answered 200 with the same bytes (a server without
  validators): hashed and dropped.

Target: each unchanged re-read <= 0.1x the first read, in time and queries.

Runs standalone (``python bench/bench_rotations.py``) against a throw-away
database (SQLite, or a fresh PostgreSQL database when DATABASE_URL points at
one).
"""

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import throwaway_database  # noqa: E402

PEOPLE = 20
DAYS = 365
RUNS = 7
TARGET_RATIO = 0.1


def feed(start) -> bytes:
    lines = ["BEGIN:VCALENDAR", "PRODID:-//PagerDuty//On-Call Schedule//EN", "VERSION:2.0"]
    for n in range(DAYS):
        day = start + timedelta(days=n)
        lines += [
            "BEGIN:VEVENT",
            f"UID:bench-{n}",
            f"DTSTART:{day:%Y%m%d}T000000Z",
            f"DTEND:{day + timedelta(days=1):%Y%m%d}T000000Z",
            f"SUMMARY:On Call - Person {n % PEOPLE} - Payments Primary",
            f"ATTENDEE:person{n % PEOPLE}@example.com",
            "END:VEVENT",
        ]
    return ("\r\n".join([*lines, "END:VCALENDAR", ""])).encode()


def main() -> None:
    with throwaway_database("rotations"):
        run()


def timed(action) -> tuple[float, int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = action()
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len(queries), result


def run() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from oncall.rotations.models import Rotation, ShadowPlan
    from oncall.rotations.read import read_rotation
    from oncall.shifts.models import ShadowShift
    from oncall.teams.models import Membership, Team
    from tests.fixtures.rotations.server import FeedServer

    call_command("migrate", verbosity=0)
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}")
    User = get_user_model()
    team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
    for n in range(PEOPLE):
        user = User.objects.create_user(f"person{n}", email=f"person{n}@example.com")
        Membership.objects.create(user=user, team=team)
    trainee = User.objects.create_user("trainee", email="trainee@example.com")
    Membership.objects.create(user=trainee, team=team)
    today = datetime.now(UTC).date()
    body = feed(today - timedelta(days=30))
    print(f"feed: {DAYS} daily shifts, {PEOPLE} people, {len(body) / 1024:.0f} KiB")

    with FeedServer() as server:
        server.feeds["/payments.ics"] = body
        rotation = Rotation.objects.create(
            team=team, name="Payments", url=server.url("/payments.ics"), person_rule="pagerduty"
        )

        def fresh(with_plan: bool) -> None:
            ShadowShift.objects.all().delete()
            ShadowPlan.objects.all().delete()
            rotation.shifts.all().delete()
            Rotation.objects.filter(pk=rotation.pk).update(etag="", content_hash="")
            rotation.refresh_from_db()
            if with_plan:
                ShadowPlan.objects.create(
                    rotation=rotation,
                    trainee=trainee,
                    starts_on=today,
                    ends_on=today + timedelta(days=13),
                )

        rows = {}
        for label, with_plan in (("first read, no plan", False), ("first read, 2-week plan", True)):
            samples = []
            for _ in range(RUNS):
                fresh(with_plan)
                samples.append(timed(lambda: read_rotation(rotation)))
            ms = statistics.median(s[0] for s in samples)
            rows[label] = (ms, samples[-1][1], samples[-1][2])
        first_ms, first_queries, first = rows["first read, 2-week plan"]
        assert first.state == "changed", first.line()

        rotation.refresh_from_db()
        samples = [timed(lambda: read_rotation(rotation)) for _ in range(RUNS * 3)]
        assert samples[-1][2].state == "not_modified"
        rows["re-read, 304"] = (statistics.median(s[0] for s in samples), samples[-1][1], None)

        server.etags = False
        samples = [timed(lambda: read_rotation(rotation)) for _ in range(RUNS * 3)]
        assert samples[-1][2].state == "unchanged"
        rows["re-read, 200 same bytes"] = (
            statistics.median(s[0] for s in samples),
            samples[-1][1],
            None,
        )

    print(f"first read: {first.shifts} shifts stored, {first.plans.scheduled} shadow shifts")
    for label, (ms, queries, _result) in rows.items():
        line = f"{label:28} {ms:8.1f} ms  {queries:4d} queries"
        if label.startswith("re-read"):
            t_ratio, q_ratio = ms / first_ms, queries / first_queries
            met = t_ratio <= TARGET_RATIO and q_ratio <= TARGET_RATIO
            line += f"  ratio {t_ratio:.3f}x time, {q_ratio:.3f}x queries ({'met' if met else 'MISSED'})"
        print(line)


if __name__ == "__main__":
    main()
