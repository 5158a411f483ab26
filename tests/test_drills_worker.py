"""A drill replayed by real Celery workers, one of them killed with SIGKILL mid-drill.

The stack is the reminders' fault stack (tests/test_reminders_faults.py): a
database of its own migrated by ``manage.py migrate``, a throwaway
``redis-server`` as the broker, ``celery -A oncall worker`` subprocesses. The
test plays beat, publishing ``oncall.drills.tasks.replay`` five times a second.
Every step must be played exactly once: none lost with the killed worker, none
doubled by the workers that race after it.
"""

import pytest

from tests.stack import wait_until
from tests.test_reminders_faults import Beat, Stack

REPLAY = "oncall.drills.tasks.replay"
FIRED, INJECTS = 60, 20

pytestmark = pytest.mark.slow

SEED = f"""
from django.contrib.auth import get_user_model
from oncall.drills.record import store_scenario
from oncall.drills.running import schedule_drill
from oncall.drills.steps import check_steps
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="payments", name="Payments")
lead = User.objects.create_user("lead")
trainee = User.objects.create_user("trainee")
Membership.objects.create(user=lead, team=team, role="lead")
Membership.objects.create(user=trainee, team=team)
steps = [
    {{"kind": "fired", "offset": n, "alertname": f"Alert{{n}}", "labels": {{"n": str(n)}}}}
    for n in range({FIRED})
] + [{{"kind": "inject", "offset": 2 * n + 1, "text": f"inject {{n}}"}} for n in range({INJECTS})]
scenario = store_scenario(team=team, title="storm", specs=check_steps(steps))
print(schedule_drill(scenario=scenario, trainee=trainee, game_master=lead).pk)
"""


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path)
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_redis()
        yield stack
    finally:
        stack.stop_workers()
        stack.stop_redis()
        stack.db.drop()


def played(stack: Stack, drill: int) -> int:
    return stack.db.query("SELECT COUNT(*) FROM drills_playedstep WHERE drill_id = %s", (drill,))[
        0
    ][0]


def test_it_plays_every_step_once_across_a_killed_worker_and_racing_ones(stack):
    drill = int(stack.manage("shell", code=SEED).split()[-1])
    with Beat(stack, REPLAY, interval=0.2):
        doomed = stack.start_worker("doomed", smtp_port=0)
        # Killed once it has played some steps and before it can play them all.
        assert wait_until(lambda: played(stack, drill) >= 10, 60), doomed.log_path.read_text()
        stack.kill_worker(doomed)
        assert played(stack, drill) < FIRED + INJECTS
        stack.start_worker("racer-a", smtp_port=0, concurrency=2)
        stack.start_worker("racer-b", smtp_port=0, concurrency=2)
        assert wait_until(lambda: played(stack, drill) == FIRED + INJECTS, 90), played(stack, drill)
    stack.stop_workers()
    pages = stack.db.query(
        "SELECT alertname, COUNT(*) FROM drills_drillpage WHERE drill_id = %s GROUP BY alertname",
        (drill,),
    )
    assert sorted(pages) == sorted((f"Alert{n}", 1) for n in range(FIRED))
    injects = stack.db.query(
        "SELECT e.text, COUNT(*) FROM drills_responseevent e "
        "JOIN drills_response r ON r.id = e.response_id "
        "WHERE r.drill_id = %s AND e.kind = 'inject_released' GROUP BY e.text",
        (drill,),
    )
    assert sorted(injects) == sorted((f"inject {n}", 1) for n in range(INJECTS))
    # No step was played ahead of its offset.
    early = stack.db.query(
        "SELECT COUNT(*) FROM drills_playedstep WHERE drill_id = %s AND played_at < planned_at",
        (drill,),
    )
    assert early == [(0,)]
    # Drill pages never reach the real alerts table.
    assert stack.db.query("SELECT COUNT(*) FROM alerts_alertoccurrence") == [(0,)]
