"""Drill replay accuracy: 10 drills of 50 steps at once, replayed by the deployed processes.

The app runs as the Procfile writes it (web, worker, beat: bench/_stack.py) on
each configuration. 10 drills start together, each a scenario of 50 steps
(40 alerts fired, 10 injects) spread over 0..98 s. The beat's ``drills-replay``
entry ticks every second. For every step the database records when it was
planned (start + offset) and when it was played; the figures are p50, p95 and
max of played - planned, and their ratio to the beat's own interval (1 s), the
least lateness a tick-driven replay can promise. Target: p95 <= 2 s.

Run: .venv/bin/python bench/bench_drills.py [embedded|deployed ...]
"""

import statistics
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import Stack, machine, unavailable, verdict  # noqa: E402

from tests.stack import free_port, wait_until  # noqa: E402

DRILLS, STEPS, TICK = 10, 50, 1.0

SEED = f"""
from django.contrib.auth import get_user_model
from oncall.drills.record import store_scenario
from oncall.drills.running import schedule_drill
from oncall.drills.steps import check_steps
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="bench", name="Bench")
lead = User.objects.create_user("bench-lead")
Membership.objects.create(user=lead, team=team, role="lead")
steps = [
    {{"kind": "inject", "offset": 2 * n, "text": f"inject {{n}}"}} if n % 5 == 4 else
    {{"kind": "fired", "offset": 2 * n, "alertname": f"Alert{{n}}", "labels": {{"n": str(n)}}}}
    for n in range({STEPS})
]
scenario = store_scenario(team=team, title="bench", specs=check_steps(steps))
for d in range({DRILLS}):
    trainee = User.objects.create_user(f"bench-trainee-{{d}}")
    Membership.objects.create(user=trainee, team=team)
    schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(configuration: str) -> None:
    why = unavailable(configuration)
    if why:
        print(f"{configuration}: skipped ({why})")
        return
    stack = Stack(configuration, "drills")
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_procfile(free_port())
        stack.manage("shell", code=SEED)
        total = DRILLS * STEPS

        def played() -> int:
            return stack.db.query("SELECT COUNT(*) FROM drills_playedstep")[0][0]

        if not wait_until(lambda: played() == total, 2 * STEPS + 120, interval=1.0):
            raise RuntimeError(f"{played()} of {total} steps played\n{stack.log('worker')[-2000:]}")
        rows = stack.db.query("SELECT planned_at, played_at FROM drills_playedstep")
        late = [
            (played_at - planned_at).total_seconds()
            if not isinstance(played_at, str)
            else (_parse(played_at) - _parse(planned_at)).total_seconds()
            for planned_at, played_at in rows
        ]
        absolute = [abs(x) for x in late]
        p95 = percentile(absolute, 0.95)
        print(
            f"{stack.label}: {len(late)} steps of {DRILLS} drills; |played - planned| "
            f"p50 {statistics.median(absolute):.2f} s, p95 {p95:.2f} s "
            f"({p95 / TICK:.2f}x the beat interval), max {max(absolute):.2f} s; "
            f"target p95 <= 2 s: {verdict(p95 <= 2.0)}; {machine()}"
        )
    finally:
        stack.close()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


if __name__ == "__main__":
    for configuration in sys.argv[1:] or ["embedded", "deployed"]:
        run(configuration)
