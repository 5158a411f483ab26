"""2,000 generated payloads against the receiver under gunicorn, while a Celery worker plans.

The stack runs as in production, each part a process of its own, in the
suite's configuration: a database of the test's own (an SQLite file, or a
PostgreSQL database beside the test database when DATABASE_URL is set), the
configured broker (the filesystem transport, or Redis when REDIS_URL is set),
``gunicorn`` with two workers and ``celery -A oncall worker``. No beat runs:
the receiver asks for a planning round whenever a new alert fires during a
shift, which is all through the run.

The payloads come from a seeded ``random.Random`` (``SEED``), so a failure
is reproducible. Each alert is made valid or given exactly one defect of a
known class, so the test knows, per alert, what the answer must say:

- text: NUL or a lone surrogate in the alert name, a label key or value, an
  annotation key or value, the fingerprint or generatorURL;
- time: a start or end outside the years 2000 to 2999 or over a day ahead,
  the zero time as a start, a time that is not RFC 3339 or has no zone;
- shape: not an object, labels not an object or over 100 entries, no alert
  name, an unknown status, a fingerprint that is not 1 to 64 characters;

beside random unicode of every plane, extreme numbers, labels nested deep,
team labels for a team the source may not file for, and re-deliveries of
earlier alerts. A few payloads are unreadable as a whole (not JSON, not UTF-8,
version 3, nesting too deep, an integer of 5,000 digits) and must get 400.

It asserts: no answer of 500 (or any other than 200 and the expected 400s);
each refused alert listed with its index and a reason of its class; every
valid alert stored exactly once, under the source's team, with one delivery
per payload that carried it; and planning still works: a control shift's
trainee, in another team, gets the live page for an alert posted after the
storm, and the fuzzed team's trainee got the capped 20.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.stack import ROOT, StackDatabase, app_env, free_port, manage, wait_until

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
CELERY = str(Path(sys.executable).with_name("celery"))
SEED = 20261207
PAYLOADS = 2000
CLIENTS = 4
PAGES_PER_SHIFT = 20  # oncall.reminders.live

pytestmark = pytest.mark.slow

SEED_DATA = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.alerts.sources import create_source
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
User = get_user_model()
now = timezone.now()
out = []
for slug in ("payments", "control"):
    team = Team.objects.create(slug=slug, name=slug.title(), time_zone="Asia/Tokyo")
    people = {}
    for role in ("trainee", "primary"):
        people[role] = User.objects.create_user(f"{slug}-{role}", email=f"{slug}-{role}@example.com")
        Membership.objects.create(user=people[role], team=team)
    ShadowShift.objects.create(team=team, trainee=people["trainee"], primary=people["primary"],
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3), time_zone="Asia/Tokyo")
    source, token = create_source(team=team, name="fuzz")
    out += [str(team.pk), str(source.pk), token]
Team.objects.create(slug="platform", name="Platform")
print(" ".join(out))
"""


# --- the generator ---------------------------------------------------------------

# Code point ranges, surrogates (U+D800 to U+DFFF) and NUL left out: those are
# the defects, put in on purpose where a test wants them.
PLANES = [
    (0x20, 0x7E),  # ASCII
    (0x01, 0x1F),  # control characters other than NUL
    (0x7F, 0x9F),  # DEL and C1 controls
    (0xA0, 0x24F),  # Latin
    (0x300, 0x36F),  # combining marks
    (0x590, 0x6FF),  # Hebrew, Arabic (right to left)
    (0x200B, 0x202E),  # zero-width and direction overrides
    (0x3000, 0x30FF),  # CJK punctuation, kana
    (0x4E00, 0x9FFF),  # CJK
    (0xE000, 0xF8FF),  # private use
    (0xFFF0, 0xFFFF),  # specials, the non-characters U+FFFE and U+FFFF
    (0x1F300, 0x1FAFF),  # emoji
    (0x10000, 0x10FFFF),  # anything astral
]
SPECIAL = ["İ" * 150, "ß", "\ufeff", "\u202e", "<script>alert(1)</script>", "%00", "\\u0000",
           "../..", "' OR 1=1 --", "\r\n", "\t", "{{ x }}", "${x}"]  # fmt: skip
NUMBERS = [0, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 10**300, float("inf"),
           float("-inf"), float("nan"), 0.1, True, False, None]  # fmt: skip
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_BODY = 1024 * 1024
ZONES = [timedelta(0), timedelta(hours=14), timedelta(hours=-12), timedelta(hours=5, minutes=45),
         timedelta(hours=-3, minutes=-30), timedelta(hours=9)]  # fmt: skip


@dataclass
class Planned:
    """One alert of a payload and what the answer must say of it."""

    alert: object
    key: tuple[str, datetime] | None = None  # valid: (fingerprint, start in UTC)
    defect: str = ""  # "nul", "surrogate", "time", "shape"
    reason_start: str = ""  # for text: the field the reason must name


@dataclass
class Payload:
    body: bytes
    alerts: list[Planned] = field(default_factory=list)
    unreadable: bool = False


class Fuzzer:
    def __init__(self, seed: int, now: datetime):
        self.rng = random.Random(seed)
        self.now = now
        self.serial = 0
        self.delivered: list[Planned] = []
        # Characters drawn from every plane once; texts draw from them (quick).
        self.alphabet = [chr(self.rng.randint(lo, hi)) for lo, hi in PLANES for _ in range(300)]

    # -- pieces --

    def text(self, lo: int = 0, hi: int = 40) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            return rng.choice(SPECIAL)
        return "".join(rng.choices(self.alphabet, k=rng.randint(lo, hi)))

    def value(self, limit: int = 60):
        roll = self.rng.random()
        if roll < 0.65:
            return self.text(0, limit)
        if roll < 0.85:
            return self.rng.choice(NUMBERS)
        if roll < 0.97:
            return self.nested(self.rng.randint(1, 120))
        return self.text(0, 20) + "v" * 1000  # over the 1,000 characters kept

    def nested(self, depth: int):
        inner = self.rng.choice([self.text(0, 8), self.rng.choice(NUMBERS), {}, []])
        for _ in range(depth):
            inner = [inner] if self.rng.random() < 0.5 else {self.rng.choice(self.alphabet): inner}
        return inner

    def moment(self, moment: datetime) -> str:
        """``moment`` as RFC 3339 in some zone, with 0, 3, 6 or 9 fractional digits."""
        rng = self.rng
        local = moment.astimezone(timezone(rng.choice(ZONES)))
        digits = rng.choice([0, 3, 6, 9])
        if digits == 0:
            local = local.replace(microsecond=0)
            text = local.isoformat(timespec="seconds")
        elif digits == 3:
            local = local.replace(microsecond=local.microsecond // 1000 * 1000)
            text = local.isoformat(timespec="milliseconds")
        else:
            text = local.isoformat(timespec="microseconds")
            if digits == 9:  # Alertmanager writes nanoseconds; the receiver keeps microseconds
                text = text[:26] + f"{rng.randint(0, 999):03d}" + text[26:]
        if text.endswith("+00:00") and rng.random() < 0.7:
            text = text[:-6] + "Z"
        return text, local.astimezone(UTC)

    def start(self) -> tuple[str, datetime]:
        roll = self.rng.random()
        if roll < 0.4:  # during the shifts, which began an hour ago
            moment = self.now - timedelta(seconds=self.rng.uniform(60, 3000))
        elif roll < 0.45:  # a clock a little ahead
            moment = self.now + timedelta(hours=self.rng.uniform(0, 22))
        elif roll < 0.98:
            moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
                seconds=self.rng.uniform(0, (self.now - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds())
            )  # fmt: skip
        else:
            return "2000-01-01T00:00:00Z", datetime(2000, 1, 1, tzinfo=UTC)
        return self.moment(moment)

    def fingerprint(self) -> str:
        self.serial += 1
        if self.rng.random() < 0.6:
            return f"{self.serial:016x}"
        return f"{self.serial:x}-" + self.text(0, 40)[:50]

    # -- alerts --

    def valid(self) -> Planned:
        rng = self.rng
        labels = {self.text(0, 20): self.value(30) for _ in range(rng.randint(0, 8))}
        if rng.random() < 0.03:  # exactly the limit of 100
            while len(labels) < 99:
                labels[f"l{len(labels)}-" + self.text(0, 5)] = self.value(10)
        if rng.random() < 0.2:
            labels["team"] = rng.choice(["platform", "control", "payments", self.text(1, 10)])
        labels.pop("alertname", None)
        labels = dict(list(labels.items())[:99])
        labels["alertname"] = self.text(0, 20) + "Fuzz" + self.text(0, rng.choice([20, 20, 250]))
        annotations = {self.text(0, 20): self.value(40) for _ in range(rng.randint(0, 3))}
        annotations["summary"] = self.text(0, 120)
        if rng.random() < 0.03:
            annotations["description"] = self.text(0, 20) + "d" * 8000  # over the 8,000 kept
        if rng.random() < 0.2:
            annotations["runbook_url"] = rng.choice(
                ["http://[::1", "https://oncall.example.com/runbooks/alert/" + self.text(0, 20),
                 "/runbooks/" + self.text(0, 20), self.text(0, 50)]
            )  # fmt: skip
        starts, starts_at = self.start()
        status = rng.choice(["firing"] * 4 + ["resolved"])
        alert = {"labels": labels, "annotations": annotations, "startsAt": starts,
                 "fingerprint": self.fingerprint()}  # fmt: skip
        if rng.random() < 0.9:
            alert["status"] = status
        else:
            status = "firing"
        if status == "resolved" and rng.random() < 0.9:
            end = min(starts_at + timedelta(minutes=rng.uniform(0, 30)), self.now)
            alert["endsAt"] = self.moment(end)[0]
        else:
            alert["endsAt"] = rng.choice(["0001-01-01T00:00:00Z", "", None])
        generator = rng.random()
        if generator < 0.7:
            alert["generatorURL"] = "http://prometheus:9090/graph?g0.expr=" + self.text(0, 80)
        elif generator < 0.8:
            alert["generatorURL"] = rng.choice(NUMBERS + [[], {}])
        return Planned(alert, key=(alert["fingerprint"], starts_at))

    def delivery(self) -> Planned:
        """A valid alert: new, or one sent before (Alertmanager repeats a group)."""
        if self.delivered and self.rng.random() < 0.12:
            return self.rng.choice(self.delivered)
        planned = self.valid()
        self.delivered.append(planned)
        return planned

    def inject(self, text: str, bad: str) -> str:
        # Early in the text: what is past a kept length would be cut off, not refused.
        at = self.rng.randint(0, min(len(text), 50))
        return text[:at] + bad + text[at:]

    def text_defect(self, defect: str) -> Planned:
        base = self.valid().alert
        bad = "\x00" if defect == "nul" else self.rng.choice(SURROGATES)
        where = self.rng.choice(
            ["alertname", "label key", "label value", "annotation key", "annotation value",
             "fingerprint", "generatorURL"]
        )  # fmt: skip
        # Room for one more label under the limit of 100, which would be a defect of its own.
        labels = dict(list(base["labels"].items())[-50:])
        base["labels"] = labels
        annotations = base["annotations"]
        if where == "alertname":
            labels["alertname"] = self.inject(labels["alertname"], bad)
            start = "labels['alertname']"
        elif where == "label key":
            labels[self.inject("pod", bad)] = "api-1"
            start = "labels: a key"
        elif where == "label value":
            key = "k" + self.text(0, 10).replace("\x00", "")
            labels[key] = self.inject(self.text(0, 30), bad)
            start = f"labels[{key[:60]!r}]"
        elif where == "annotation key":
            annotations[self.inject("note", bad)] = "x"
            start = "annotations: a key"
        elif where == "annotation value":
            annotations["summary"] = self.inject(annotations["summary"], bad)
            start = "annotations['summary']"
        elif where == "fingerprint":
            base["fingerprint"] = self.inject(base["fingerprint"][:60], bad)
            start = "fingerprint"
        else:
            base["generatorURL"] = self.inject("http://prometheus:9090/graph", bad)
            start = "generatorURL"
        # Only one defect: a label or annotation check would name the first bad entry.
        return Planned(base, defect=defect, reason_start=start)

    def time_defect(self) -> Planned:
        base = self.valid().alert
        rng = self.rng
        far = [
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-14:00",
            "2999-12-31T23:59:59Z",
            "3000-01-01T00:00:00+14:00",
            "1999-12-31T23:59:59Z",
            "2000-01-01T00:00:00+00:01",
            "1970-01-01T00:00:00Z",
            "0002-01-01T00:00:00Z",
            self.moment(self.now + timedelta(hours=rng.uniform(26, 10_000)))[0],
        ]
        unreadable = ["yesterday", "2026-12-07T25:00:00Z", "2026-12-07T10:00:00", "2026-12-07",
                      "", None, 1_700_000_000, [], {}, "0001-01-01T00:00:00Z"]  # fmt: skip
        if rng.random() < 0.25:
            base["endsAt"] = rng.choice(far)
        else:
            base["startsAt"] = rng.choice(far + unreadable)
        return Planned(base, defect="time")

    def shape_defect(self) -> Planned:
        rng = self.rng
        base = self.valid().alert
        kind = rng.randint(0, 7)
        if kind == 0:
            return Planned(rng.choice(["alert", 5, None, [], True, 1e308]), defect="shape")
        if kind == 1:
            base["labels"] = rng.choice([[], "alertname=x", 5])
        elif kind == 2:
            base["labels"] = {f"l{i}": "x" for i in range(rng.randint(101, 300))}
        elif kind == 3:
            base["labels"]["alertname"] = rng.choice(["", "   ", "\t\u3000"])
        elif kind == 4:
            base["labels"].pop("alertname")
        elif kind == 5:
            base["status"] = rng.choice(["exploded", "", "FIRING", 1, None, ["firing"]])
        elif kind == 6:
            base["fingerprint"] = rng.choice(["", "f" * 65, 5, [], {}, 1.5])
        else:
            base["annotations"] = rng.choice([[], "summary", 7])
        return Planned(base, defect="shape")

    def alert(self) -> Planned:
        roll = self.rng.random()
        if roll < 0.6:
            return self.delivery()
        if roll < 0.7:
            return self.text_defect("nul")
        if roll < 0.8:
            return self.text_defect("surrogate")
        if roll < 0.9:
            return self.time_defect()
        return self.shape_defect()

    # -- payloads --

    def payload(self) -> Payload:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return self.unreadable()
        count = rng.randint(100, 200) if roll < 0.05 else rng.randint(0, 8)
        planned = [self.alert() for _ in range(count)]
        body = {
            "version": "4",
            "status": "firing",
            "receiver": self.text(0, 20),
            "groupLabels": {self.text(0, 10): self.value()},
            "commonLabels": {},
            "commonAnnotations": {"x": self.text(0, 10) + rng.choice(SURROGATES)},
            "externalURL": self.text(0, 30),
            "groupKey": self.text(0, 30),
            "truncatedAlerts": rng.choice([0, 0, 0, 3, -1, "x"]),
            "alerts": [p.alert for p in planned],
        }
        encoded = self.encode(body)
        while len(encoded) > MAX_BODY and planned:  # a payload over 1 MiB is refused whole
            planned.pop()
            body["alerts"].pop()
            encoded = self.encode(body)
        return Payload(encoded, planned)

    def encode(self, body: dict) -> bytes:
        """JSON as Alertmanager sends it (UTF-8), or all ASCII with \\u escapes;
        a lone surrogate can only travel as an escape."""
        if self.rng.random() < 0.5:
            return json.dumps(body).encode()
        text = json.dumps(body, ensure_ascii=False)
        return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode()

    def unreadable(self) -> Payload:
        rng = self.rng
        good = json.dumps({"version": "4", "alerts": [self.valid().alert]})
        kind = rng.randint(0, 5)
        if kind == 0:
            body = good[: rng.randint(1, len(good) - 1)].encode()
        elif kind == 1:  # a surrogate written raw: not UTF-8
            body = good.replace('"version"', '"vers\\u00e9"', 1).encode()
            body = body[:-1] + b', "x": "\xed\xbf\xbf"}'
        elif kind == 2:
            body = good.replace('"4"', '"3"', 1).encode()
        elif kind == 3:
            body = b'{"version": "4", "alerts": {"a": 1}}'
        elif kind == 4:
            body = b'{"version": "4", "alerts": [], "n": ' + b"9" * 5000 + b"}"
        else:
            body = b'{"version": "4", "alerts": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        return Payload(body, unreadable=True)


def reason_class(reason: str) -> str:
    if "holds a NUL character" in reason:
        return "nul"
    if "holds a lone surrogate" in reason:
        return "surrogate"
    if reason.startswith(("startsAt", "endsAt")):
        return "time"
    return "shape"


# --- the stack -------------------------------------------------------------------


class Stack:
    def __init__(self, folder: Path):
        self.folder = folder
        self.db = StackDatabase(folder, label="alerts_fuzz")
        self.env = app_env(self.db, folder, LOG_LEVEL="WARNING")
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        worker_log = self.folder / "worker.log"
        self.worker_log = worker_log
        with open(worker_log, "ab") as log:
            self.processes.append(
                subprocess.Popen(
                    [CELERY, "-A", "oncall", "worker", "--pool", "solo", "--loglevel", "INFO",
                     "--without-gossip", "--without-mingle", "--without-heartbeat",
                     "-n", f"fuzz-{os.getpid()}@%h"],
                    cwd=ROOT, env={**self.env, "LOG_LEVEL": "INFO"}, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            )  # fmt: skip
        assert wait_until(lambda: b" ready." in worker_log.read_bytes(), 60), worker_log.read_text()
        self.error_log = self.folder / "gunicorn.log"
        with open(self.error_log, "ab") as log:
            self.processes.append(
                subprocess.Popen(
                    [GUNICORN, "oncall.wsgi", "--config", "gunicorn.conf.py", "--bind",
                     f"127.0.0.1:{self.port}", "--workers", "2"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )  # fmt: skip
        assert wait_until(self.answers, 60), self.error_log.read_text()

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def post(self, token: str, body: bytes) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/integrations/alertmanager/",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, {"raw": raw[:300].decode(errors="replace")}
        except OSError as e:  # no answer at all (a worker killed mid-request): status 0
            return 0, {"error": repr(e)}

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        self.processes = []


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path)
    try:
        manage(stack.env, "migrate", "--noinput", "-v", "0", timeout=300)
        ids = manage(stack.env, "shell", "-c", SEED_DATA).strip().splitlines()[-1].split()
        stack.payments_team, stack.payments_source, stack.payments_token = ids[0:3]
        stack.control_token = ids[5]
        stack.start()
        yield stack
    finally:
        stack.stop()
        stack.db.drop()


def utc(value) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def live_pages(stack: Stack, username: str) -> list[str]:
    rows = stack.db.query(
        "SELECT r.subject FROM reminders_reminder r JOIN auth_user u ON u.id = r.recipient_id "
        "WHERE r.kind = 'live_page' AND u.username = %s ORDER BY r.id",
        (username,),
    )
    return [subject for (subject,) in rows]


def test_two_thousand_hostile_payloads_store_every_valid_alert_once_and_planning_goes_on(stack):
    fuzzer = Fuzzer(SEED, datetime.now(UTC))
    payloads = [fuzzer.payload() for _ in range(PAYLOADS)]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(lambda p: stack.post(stack.payments_token, p.body), payloads))

    statuses = Counter(status for status, _answer in answers)
    expected_deliveries: Counter = Counter()
    refused: Counter = Counter()
    problems = []
    for number, (payload, (status, answer)) in enumerate(zip(payloads, answers, strict=True)):
        if payload.unreadable:
            if status != 400:
                problems.append((number, "unreadable payload answered", status, answer))
            continue
        if status != 200:
            problems.append((number, "answered", status, answer))
            continue
        wanted = {i: p for i, p in enumerate(payload.alerts) if p.defect}
        got = {r["index"]: r["reason"] for r in answer["rejected"]}
        # The answer lists the first 50 refusals.
        if sorted(got) != sorted(wanted)[:50]:
            problems.append((number, "refused", sorted(got), "expected", sorted(wanted)))
        for index, reason in got.items():
            planned = wanted.get(index)
            cls = reason_class(reason)
            refused[cls] += 1
            if planned is None or cls != planned.defect:
                problems.append(
                    (number, index, "reason", reason, "expected", planned and planned.defect)
                )
            elif planned.reason_start and not reason.startswith(planned.reason_start):
                problems.append((number, index, "reason", reason, "expected", planned.reason_start))
        keys = {p.key for p in payload.alerts if p.key is not None}
        if answer["new"] + answer["updated"] != len(keys):
            problems.append((number, "new + updated", answer["new"], answer["updated"], len(keys)))
        expected_deliveries.update(keys)
    assert statuses[500] == 0
    assert set(statuses) <= {200, 400}, statuses
    assert problems == [], problems[:20]

    # Every valid alert stored exactly once, under the source's own team.
    rows = stack.db.query(
        "SELECT fingerprint, starts_at, deliveries, team_id FROM alerts_alertoccurrence "
        "WHERE source_id = %s",
        (int(stack.payments_source),),
    )
    stored = Counter((fp, utc(starts)) for fp, starts, _deliveries, _team in rows)
    assert max(stored.values(), default=1) == 1
    assert set(stored) == set(expected_deliveries)
    deliveries = {(fp, utc(starts)): count for fp, starts, count, _team in rows}
    assert deliveries == dict(expected_deliveries)
    assert {team for *_rest, team in rows} == {int(stack.payments_team)}

    # Planning went on all through: the fuzzed team's trainee got the capped pages,
    # and an alert of the control team posted after the storm reaches its trainee.
    assert wait_until(lambda: len(live_pages(stack, "payments-trainee")) == PAGES_PER_SHIFT, 60)
    control = {
        "version": "4",
        "alerts": [{"labels": {"alertname": "ControlAlert"}, "annotations": {"summary": "control"},
                    "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                    "fingerprint": "c0c0c0c0c0c0c0c0"}],
    }  # fmt: skip
    status, answer = stack.post(stack.control_token, json.dumps(control).encode())
    assert (status, answer["new"]) == (200, 1)
    expected = ["ControlAlert is firing — your primary is on it"]
    assert wait_until(lambda: live_pages(stack, "control-trainee") == expected, 60), (
        live_pages(stack, "control-trainee"),
        stack.worker_log.read_text()[-3000:],
    )
    worker_log = stack.worker_log.read_text(errors="replace")
    assert "Traceback" not in worker_log, worker_log[-5000:]
    assert "Traceback" not in stack.error_log.read_text(errors="replace")

    alerts = sum(len(p.alerts) for p in payloads)
    defects = Counter(a.defect for p in payloads for a in p.alerts if a.defect)
    print(
        f"\nalerts fuzz (seed {SEED}): {len(payloads)} payloads "
        f"({sum(p.unreadable for p in payloads)} unreadable), {alerts} alerts, "
        f"{len(expected_deliveries)} valid alerts stored once "
        f"({sum(expected_deliveries.values())} deliveries), refused by class {dict(defects)} "
        f"(of them listed in answers, checked reason by reason: {dict(refused)}), "
        f"statuses {dict(statuses)}, "
        f"plan rounds {worker_log.count('planned reminders:')}"
    )
