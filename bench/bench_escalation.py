"""Reverse-shadow escalation timing: the primary hears of an unacknowledged page on time, and
never of an acknowledged one.

The app runs as the Procfile writes it (web, worker, beat: bench/_stack.py) on
each configuration, with a real SMTP server on loopback in this process. A
reverse-shadow shift is on; the team's escalation delay is 1 minute. 20
alerts are posted to the Alertmanager receiver, one every 1.5 s, so their
escalations fall due at every phase of beat's 30 s dispatch interval. Within
the delay, the trainee acknowledges every other page (a ``drills.Response``
with its acknowledged time, as the response page writes it).

Figures: for the 10 pages left unacknowledged, the primary's message arrival
at the SMTP server minus (the page's start + the delay), p50 / p95 / max;
target p95 <= 60 s. The run then waits a further dispatch interval and more,
and counts messages that arrived for acknowledged pages: the target is none.

Run: .venv/bin/python bench/bench_escalation.py [embedded|deployed ...]
"""

import email
import email.policy
import json
import logging
import statistics
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import Stack, machine, unavailable, verdict  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from tests.stack import free_port, wait_until  # noqa: E402

PAGES, SPACING, DELAY_MINUTES = 20, 1.5, 1
DISPATCH_INTERVAL = 30.0  # beat's reminders-dispatch entry
TARGET = 60.0

SEED = f"""
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.alerts.sources import create_source
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="payments", name="Payments", escalation_delay={DELAY_MINUTES})
trainee = User.objects.create_user("trainee", email="trainee@example.com", first_name="Taro")
primary = User.objects.create_user("primary", email="primary@example.com")
for user in (trainee, primary):
    Membership.objects.create(user=user, team=team)
now = timezone.now()
ShadowShift.objects.create(team=team, trainee=trainee, primary=primary,
    kind=ShadowShift.Kind.REVERSE_SHADOW,
    starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2))
print(create_source(team=team, name="bench")[1])
"""

ACKNOWLEDGE = """
import json
from django.utils import timezone
from oncall.alerts.models import AlertOccurrence
from oncall.drills.models import Response
from oncall.shifts.models import ShadowShift
shift = ShadowShift.objects.get()
names = json.loads({names!r})
for occurrence in AlertOccurrence.objects.filter(alertname__in=names):
    Response.objects.create(responder=shift.trainee, occurrence=occurrence, shift=shift,
        acknowledged_at=timezone.now())
print(len(names))
"""


class ArrivalSink:
    """An SMTP server that notes when each message arrived, by its reminder kind."""

    def __init__(self):
        self.arrivals: list[tuple[float, str, str]] = []  # (time, kind, subject)
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        at = time.time()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.arrivals.append(
                (at, message["X-Oncall-Reminder"], " ".join(message["Subject"].split()))
            )
        return "250 OK"

    def of_kind(self, kind: str) -> list[tuple[float, str]]:
        with self.lock:
            return [(at, subject) for at, k, subject in self.arrivals if k == kind]


def alert(name: str, starts: datetime, number: int) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": name, "severity": "critical"},
                    "annotations": {"summary": f"{name} is failing"},
                    "startsAt": starts.isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"{number + 1:016x}",
                }
            ],
        }
    ).encode()


def post(url: str, token: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{url}/integrations/alertmanager/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Forwarded-Proto": "https",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        response.read()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(configuration: str) -> None:
    why = unavailable(configuration)
    if why:
        print(f"{configuration}: skipped ({why})")
        return
    sink = ArrivalSink()
    sink.controller.start()
    stack = Stack(
        configuration,
        "escalation",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(sink.port),
        SITE_URL="https://oncall.example.com",
    )
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        url = stack.start_procfile(free_port())
        token = stack.manage("shell", code=SEED).split()[-1]
        names = [f"PaymentsAlert{n:02d}" for n in range(PAGES)]
        starts: dict[str, float] = {}
        for number, name in enumerate(names):
            moment = datetime.now(UTC).replace(microsecond=0)
            starts[name] = moment.timestamp()
            post(url, token, alert(name, moment, number))
            time.sleep(SPACING)
        acknowledged = names[::2]
        stack.manage("shell", code=ACKNOWLEDGE.format(names=json.dumps(acknowledged)))
        acked_by = time.time()
        first_due = min(starts.values()) + DELAY_MINUTES * 60
        assert acked_by < first_due, "the acknowledgements came after the delay: slow machine"
        left = [n for n in names if n not in acknowledged]
        deadline = max(starts.values()) + DELAY_MINUTES * 60 + 3 * DISPATCH_INTERVAL + 30

        def escalated() -> dict[str, float]:
            found = {}
            for at, subject in sink.of_kind("page_escalated"):
                for name in names:
                    if f" {name} " in f" {subject} ":
                        found.setdefault(name, at)
            return found

        wait_until(lambda: set(left) <= set(escalated()), deadline - time.time(), interval=1.0)
        # Give any wrong message for an acknowledged page time to arrive.
        time.sleep(max(0.0, min(deadline - time.time(), DISPATCH_INTERVAL + 10)))
        arrived = escalated()
        late = [arrived[n] - (starts[n] + DELAY_MINUTES * 60) for n in left if n in arrived]
        missing = [n for n in left if n not in arrived]
        wrong = [n for n in acknowledged if n in arrived]
        pending = stack.db.query(
            "SELECT state, COUNT(*) FROM reminders_reminder WHERE kind = 'page_escalated' "
            "GROUP BY state"
        )
        if not late:
            raise RuntimeError(f"no escalation arrived\n{stack.log('worker')[-3000:]}")
        p95 = percentile(late, 0.95)
        print(
            f"{stack.label}: {PAGES} pages on a reverse-shadow shift, delay {DELAY_MINUTES} min, "
            f"{len(acknowledged)} acknowledged in time; primary's message arrival - "
            f"(start + delay) for the {len(left)} others: p50 {statistics.median(late):.1f} s, "
            f"p95 {p95:.1f} s, max {max(late):.1f} s ({len(missing)} missing); "
            f"messages for acknowledged pages: {len(wrong)}; escalation rows by state "
            f"{dict(sorted(pending))}; target p95 <= {TARGET:.0f} s and none for acknowledged "
            f"pages: {verdict(p95 <= TARGET and not wrong and not missing)}; {machine()}"
        )
    finally:
        stack.close()
        sink.controller.stop()


if __name__ == "__main__":
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    for configuration in sys.argv[1:] or ["embedded", "deployed"]:
        run(configuration)
