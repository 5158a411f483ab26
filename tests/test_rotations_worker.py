"""A swap in the real rotation reaches the trainee's calendar feed and a notice, through
a real ``celery beat`` and ``celery worker`` reading a feed from a real local HTTP server.

The stack is the reminders' fault stack (a database of its own migrated by
``manage.py migrate``, a throwaway ``redis-server``). Beat runs as it does in
production, with a short interval: every feed is due at each 2-second tick.
"""

import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.rotations.server import FeedServer
from tests.stack import wait_until
from tests.test_reminders_faults import CELERY, ROOT, Stack

pytestmark = pytest.mark.slow

TICK = 2  # seconds: the poll interval of this test


def feed(primary_of_first: str) -> bytes:
    days = [datetime.now(UTC).date() + timedelta(days=n) for n in (2, 3)]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//PagerDuty//On-Call Schedule//EN"]
    for n, (day, who) in enumerate(zip(days, (primary_of_first, "primary"), strict=True)):
        lines += [
            "BEGIN:VEVENT",
            f"UID:shift-{n}",
            f"DTSTART:{day:%Y%m%d}T000000Z",
            f"DTEND:{day:%Y%m%d}T120000Z",
            f"SUMMARY:On Call - {who} - Payments",
            f"ATTENDEE:{who}@example.com",
            "END:VEVENT",
        ]
    return ("\r\n".join([*lines, "END:VCALENDAR", ""])).encode()


SEED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.rotations.models import Rotation, ShadowPlan
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="payments", name="Payments")
for name in ("lead", "primary", "trainee"):
    user = User.objects.create_user(name, email=f"{{name}}@example.com")
    Membership.objects.create(user=user, team=team, role="lead" if name == "lead" else "member")
rotation = Rotation.objects.create(team=team, name="Payments", url="{url}", person_rule="pagerduty")
today = timezone.now().date()
ShadowPlan.objects.create(rotation=rotation, trainee=User.objects.get(username="trainee"),
    starts_on=today, ends_on=today + timedelta(days=10))
print(User.objects.get(username="trainee").profile.calendar_token)
"""

CALENDAR = """
from django.test import Client
print(Client(HTTP_HOST="localhost").get("/shifts/feed/{token}.ics").content.decode())
"""


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path)
    stack.env.update({"ROTATIONS_POLL_MINUTES": "0", "ROTATIONS_TICK_SECONDS": str(TICK)})
    beat = None
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_redis()
        yield stack
    finally:
        beat = getattr(stack, "beat_process", beat)
        if beat is not None and beat.poll() is None:
            os.killpg(beat.pid, signal.SIGTERM)
            beat.wait(timeout=20)
        stack.stop_workers()
        stack.stop_redis()
        stack.db.drop()


def start_beat(stack: Stack) -> subprocess.Popen:
    log = stack.folder / "beat.log"
    beat = subprocess.Popen(
        [
            CELERY,
            "-A",
            "oncall",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            str(stack.folder / "beat-schedule"),
        ],
        cwd=ROOT,
        env=stack.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.beat_process = beat
    return beat


def shadow_primaries(stack: Stack) -> dict[str, str]:
    rows = stack.db.query(
        "SELECT l.key, u.username FROM rotations_planshift l "
        "JOIN shifts_shadowshift s ON s.id = l.shift_id JOIN auth_user u ON u.id = s.primary_id "
        "WHERE s.state = 'scheduled'"
    )
    return dict(rows)


def test_a_swap_reaches_the_trainees_calendar_and_a_notice_within_one_poll(stack):
    with FeedServer() as server:
        server.feeds["/payments.ics"] = feed("lead")
        token = stack.manage("shell", code=SEED.format(url=server.url("/payments.ics"))).split()[-1]
        stack.start_worker("rotations", smtp_port=0)
        start_beat(stack)
        assert wait_until(
            lambda: shadow_primaries(stack) == {"shift-0": "lead", "shift-1": "primary"}, 60
        ), (stack.folder / "beat.log").read_text()[-2000:]
        calendar = stack.manage("shell", code=CALENDAR.format(token=token))
        assert calendar.count("BEGIN:VEVENT") == 2
        assert "SEQUENCE:0" in calendar

        # The swap: the real tool now has primary on the first shift.
        requests_before = len(server.requests)
        server.feeds["/payments.ics"] = feed("primary")
        assert wait_until(lambda: shadow_primaries(stack)["shift-0"] == "primary", 3 * TICK + 5)
        # Within one poll: at most two ticks of the beat read the feed meanwhile
        # (one may have been under way when the feed changed).
        assert len(server.requests) - requests_before <= 3

    calendar = stack.manage("shell", code=CALENDAR.format(token=token))
    assert "SEQUENCE:1" in calendar
    notices = stack.db.query("SELECT COUNT(*) FROM shifts_schedulechange WHERE what = 'moved'")
    assert notices == [(1,)]
    # The read asks the reminders' planner for a round at once (beat's own
    # round is a minute apart): a notice for each person on the shift.
    assert wait_until(
        lambda: (
            stack.db.query(
                "SELECT COUNT(DISTINCT recipient_id) FROM reminders_reminder "
                "WHERE kind = 'schedule_changed' AND subject LIKE %s",
                ("%moved%",),
            )[0][0]
            == 3
        ),  # the trainee, the new primary, and the one the swap took off
        30,
    ), stack.db.query("SELECT kind, COUNT(*) FROM reminders_reminder GROUP BY kind")
