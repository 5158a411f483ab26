"""Two leads save clashing shifts at the same moment, from two processes: exactly one wins.

The form's clash check cannot see a shift another process has not committed
yet. What makes the guarantee is the database: on PostgreSQL an exclusion
constraint on bookings (person, time range); on SQLite the check inside the
write transaction, which IMMEDIATE transactions serialise. To make the race
real rather than lucky, each process pauses between its check and its insert,
so both have checked before either writes.
"""

import json
import subprocess
import sys
import time

import pytest

from tests.stack import ROOT, StackDatabase, app_env, manage

pytestmark = pytest.mark.slow

SETUP = """
import django
django.setup()
from django.contrib.auth import get_user_model
from oncall.teams.models import Membership, Team

team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
User = get_user_model()
for name in ("trainee", "primary", "backup"):
    user = User.objects.create_user(name, f"{name}@example.com", "x")
    Membership.objects.create(user=user, team=team)
"""

SAVE = """
import json, os, sys, time
from datetime import UTC, datetime, timedelta
import django
django.setup()
from django.contrib.auth import get_user_model
from oncall.shifts import schedule
from oncall.shifts.series import Occurrence
from oncall.teams.models import Team

checked = schedule.find_clash

def check_then_pause(**kwargs):
    found = checked(**kwargs)
    time.sleep(float(os.environ["RACE_PAUSE"]))
    return found

schedule.find_clash = check_then_pause
User = get_user_model()
team = Team.objects.get(slug="payments")
trainee = User.objects.get(username="trainee")
primary = User.objects.get(username=sys.argv[1])
starts = datetime(2030, 1, 7, 1, 0, tzinfo=UTC) + timedelta(hours=int(sys.argv[2]))
occurrence = Occurrence(starts.date(), starts, starts + timedelta(hours=8))
time.sleep(max(0.0, float(os.environ["RACE_AT"]) - time.time()))
try:
    shifts = schedule.schedule_shifts(
        team=team, trainee=trainee, primary=primary, kind="shadow",
        occurrences=[occurrence], time_zone="UTC", created_by=None,
    )
    print(json.dumps({"saved": shifts[0].pk}))
except schedule.ClashError as e:
    print(json.dumps({"clash": e.clash.shift.pk if e.clash else None, "person": str(e.clash.person) if e.clash else None}))
"""


@pytest.fixture
def race_db(tmp_path):
    db = StackDatabase(tmp_path, label="shift_race")
    env = app_env(db, tmp_path)
    manage(env, "migrate", "--noinput", "-v", "0", timeout=300)
    done = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    try:
        yield db, env
    finally:
        db.drop()


def race(env: dict, *runs: tuple[str, int]) -> list[dict]:
    """Start one process per (primary, hour offset) together; their answers, in order."""
    env = {**env, "RACE_AT": str(time.time() + 4), "RACE_PAUSE": "1.5"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVE, primary, str(offset)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for primary, offset in runs
    ]
    answers = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers


def test_it_lets_exactly_one_of_two_racing_saves_win(race_db):
    db, env = race_db
    # Same trainee, overlapping hours, different primaries: one must lose.
    answers = race(env, ("primary", 0), ("backup", 2))

    saved = [a for a in answers if "saved" in a]
    refused = [a for a in answers if "clash" in a]
    assert len(saved) == 1 and len(refused) == 1, answers
    # The loser is told which shift won and for whom.
    assert refused[0] == {"clash": saved[0]["saved"], "person": "trainee"}
    rows = db.query("SELECT id FROM shifts_shadowshift WHERE state = 'scheduled'")
    assert [r[0] for r in rows] == [saved[0]["saved"]]
    bookings = db.query("SELECT COUNT(*) FROM shifts_booking")
    assert bookings == [(2,)]


def test_it_lets_two_saves_that_do_not_clash_both_win(race_db):
    db, env = race_db
    answers = race(env, ("primary", 0), ("backup", 8))  # back to back: no overlap
    assert all("saved" in a for a in answers), answers
    assert db.query("SELECT COUNT(*) FROM shifts_shadowshift") == [(2,)]
