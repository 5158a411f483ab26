"""Shadow shifts: a person's iCal feed with 500 shifts, and a 50-person team's month calendar.

Targets: feed p50 <= 50 ms; the feed's first poll after a restart p50 <= 100 ms
(gunicorn started as the Procfile starts it, one poll, stopped, RESTARTS
times); month calendar p50 <= 100 ms with a fixed number of queries (the same
for 10 people as for 50).

Runs standalone (``python bench/bench_shifts.py``) against a database of its
own: a throw-away SQLite file in a temporary folder, or, when DATABASE_URL
points at PostgreSQL, a fresh database on that server that is dropped at the
end. It never touches var/.
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._database import throwaway_database  # noqa: E402
from bench._stack import free_port, procfile_command, responds, wait_until  # noqa: E402

FEED_SHIFTS = 500
TEAM_PEOPLE = 50
RUNS = 40
TARGET_FEED_MS = 50
TARGET_CALENDAR_MS = 100
TARGET_FIRST_POLL_MS = 100
RESTARTS = 7


def main() -> None:
    with throwaway_database("shifts"):
        run()


def measure(client, url: str, runs: int = RUNS) -> tuple[float, float, int, int]:
    """p50 and p90 in ms, the query count of one request, and the response size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches (templates, translations)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    timings.sort()
    p90 = timings[int(len(timings) * 0.9) - 1]
    return statistics.median(timings), p90, len(queries), len(response.content)


def run() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # Pages link hashed static names; the bench measures views, not static files.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}")

    # 1. The feed of one trainee with 500 shifts (and with 50, for the ratio).
    feed_people = build_feed(FEED_SHIFTS)
    small_people = build_feed(50, prefix="small")
    client = Client()
    big = f"/shifts/feed/{feed_people.profile.calendar_token}.ics"
    small = f"/shifts/feed/{small_people.profile.calendar_token}.ics"
    p50, p90, queries, size = measure(client, big)
    s50, _s90, s_queries, _size = measure(client, small)
    print(
        f"feed, {FEED_SHIFTS} shifts: p50 {p50:.1f} ms, p90 {p90:.1f} ms, {queries} queries, "
        f"{size / 1024:.0f} KiB  (target p50 <= {TARGET_FEED_MS} ms: "
        f"{'met' if p50 <= TARGET_FEED_MS else 'MISSED'})"
    )
    from oncall.shifts import feeds

    cold = []
    for _ in range(5):
        feeds._event_bytes.cache_clear()
        started = time.perf_counter()
        client.get(big)
        cold.append((time.perf_counter() - started) * 1000)
    print(
        f"feed, {FEED_SHIFTS} shifts, no event remembered (each rendered on the poll): "
        f"p50 {statistics.median(cold):.1f} ms"
    )
    first = first_polls(big)
    print(
        f"feed, {FEED_SHIFTS} shifts, first poll after a restart of gunicorn: p50 "
        f"{statistics.median(first):.1f} ms, max {max(first):.1f} ms over {len(first)} restarts  "
        f"(target p50 <= {TARGET_FIRST_POLL_MS} ms: "
        f"{'met' if statistics.median(first) <= TARGET_FIRST_POLL_MS else 'MISSED'}; "
        f"{os.getloadavg()[0]:.2f} load average, {os.cpu_count()} cores)"
    )
    print(
        f"feed, 50 shifts: p50 {s50:.1f} ms, {s_queries} queries; "
        f"500/50 time ratio {p50 / s50:.1f}x"
    )

    # 2. The month calendar of a team of 50 (and of 10, for the query count).
    viewer, month = build_team("big", TEAM_PEOPLE)
    small_viewer, _month = build_team("small", 10)
    url = f"/shifts/?team=big&view=month&date={month}"
    client.force_login(viewer)
    c50, c90, c_queries, _size = measure(client, url)
    client.force_login(small_viewer)
    t50, _t90, t_queries, _size = measure(client, f"/shifts/?team=small&view=month&date={month}")
    hx = Client(headers={"HX-Request": "true", "HX-Target": "calendar"})
    hx.force_login(viewer)
    h50, _h90, h_queries, _size = measure(hx, url)
    from oncall.shifts.models import ShadowShift

    shown = ShadowShift.objects.filter(team__slug="big").count()
    print(
        f"month calendar, {TEAM_PEOPLE} people ({shown} shifts in the team): "
        f"p50 {c50:.1f} ms, p90 {c90:.1f} ms, {c_queries} queries  "
        f"(target p50 <= {TARGET_CALENDAR_MS} ms: "
        f"{'met' if c50 <= TARGET_CALENDAR_MS else 'MISSED'})"
    )
    print(f"month calendar, htmx partial only: p50 {h50:.1f} ms, {h_queries} queries")
    print(
        f"month calendar, 10 people: p50 {t50:.1f} ms, {t_queries} queries; "
        f"queries 50 vs 10 people: {c_queries} vs {t_queries} "
        f"({'fixed' if c_queries == t_queries else 'GROWING'})"
    )


def first_polls(path: str) -> list[float]:
    """The time of the first request for ``path`` after each of RESTARTS starts of
    the Procfile's web process, in ms. Each start waits for /healthz to answer
    (as a load balancer would) before the poll."""
    from django.db import connections

    connections.close_all()  # the web process reads what this one wrote
    timings = []
    with tempfile.TemporaryDirectory(prefix="oncall-bench-shifts-web-") as folder:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-secret",
            "BEHIND_TLS_PROXY": "true",
            "LOG_LEVEL": "WARNING",
        }
        for _ in range(RESTARTS):
            port = free_port()
            command = procfile_command("web", port=port, var=Path(folder))
            with open(Path(folder) / "web.log", "ab") as log:
                web = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            try:
                url = f"http://127.0.0.1:{port}"
                if not wait_until(lambda url=url: responds(f"{url}/healthz"), 60, interval=0.2):
                    raise RuntimeError((Path(folder) / "web.log").read_text()[-3000:])
                request = urllib.request.Request(url + path, headers={"X-Forwarded-Proto": "https"})
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    response.read()
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status == 200, response.status
            finally:
                os.killpg(web.pid, signal.SIGTERM)
                web.wait(timeout=30)
    return timings


def build_feed(count: int, prefix: str = "feed"):
    """A trainee with ``count`` shifts, one in ten cancelled, one in five moved."""
    from django.contrib.auth import get_user_model

    from oncall.shifts.models import ShadowShift
    from oncall.teams.models import Membership, Team

    User = get_user_model()
    team = Team.objects.create(slug=f"{prefix}-team", name=f"{prefix} team", time_zone="Asia/Tokyo")
    trainee = User.objects.create(username=f"{prefix}-trainee", first_name="Taro")
    primary = User.objects.create(username=f"{prefix}-primary", first_name="Priya")
    for user in (trainee, primary):
        Membership.objects.create(user=user, team=team)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=60)
    shifts = ShadowShift.objects.bulk_create(
        ShadowShift(
            team=team,
            trainee=trainee,
            primary=primary,
            kind="reverse_shadow" if n % 4 == 3 else "shadow",
            starts_at=start + timedelta(hours=12 * n),
            ends_at=start + timedelta(hours=12 * n + 8),
            time_zone="Asia/Tokyo",
            sequence=n % 3,
            state="cancelled" if n % 10 == 9 else "scheduled",
        )
        for n in range(count)
    )
    assert len(shifts) == count
    trainee.refresh_from_db()
    return trainee


def build_team(slug: str, people: int):
    """A team of ``people``: pairs shadowing every other day for three months."""
    from django.contrib.auth import get_user_model

    from oncall.shifts.models import ShadowShift
    from oncall.teams.models import Membership, Team

    User = get_user_model()
    team = Team.objects.create(slug=slug, name=slug.title(), time_zone="Europe/London")
    users = [
        User.objects.create(username=f"{slug}-{n}", first_name=f"Person {n}") for n in range(people)
    ]
    Membership.objects.bulk_create(Membership(user=u, team=team) for u in users)
    for user in users:
        user.profile.time_zone = "Europe/London"
        user.profile.save(update_fields=["time_zone"])
    month = datetime(2026, 10, 1, tzinfo=UTC)
    half = people // 2
    shifts = []
    for day in range(-31, 62, 2):  # every other day, September to November
        for pair in range(half):
            starts = month + timedelta(days=day, hours=8 + (pair % 3) * 4)
            shifts.append(
                ShadowShift(
                    team=team,
                    trainee=users[pair],
                    primary=users[half + pair],
                    kind="shadow" if pair % 3 else "reverse_shadow",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=8),
                    time_zone="Europe/London",
                )
            )
    ShadowShift.objects.bulk_create(shifts)
    return users[0], "2026-10-15"


if __name__ == "__main__":
    main()
