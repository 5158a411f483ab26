"""The Alertmanager receiver under a storm, and how soon a live page reaches the trainee.

1. Storm. 10,000 distinct alerts in payloads of 100 (Alertmanager's webhook
   payload, version 4), posted by 4 concurrent clients (keep-alive
   connections) to gunicorn with 2 workers, on a database of the benchmark's
   own. Side by side, the same payloads go to a minimal Django view in the
   same gunicorn that only parses the JSON and bulk-inserts the rows
   (bench/_alerts_baseline.py). The two alternate, twice each, on an
   emptied table. Then the whole storm is posted to the receiver again, as
   Alertmanager repeats a group: every alert must be counted as a
   re-delivery. Prints alerts/s, the ratio to the baseline, and checks 0
   lost and 0 doubled (rows = distinct (fingerprint, startsAt) = 10,000).

2. Latency. A real Alertmanager (group_wait 1s) posts to the app; a Celery
   worker and beat with the default schedule (plan every 60 s, dispatch every
   30 s) and an SMTP sink on loopback. A shadow shift is on. 20 alerts with
   distinct names are posted to Alertmanager's API, 3 s apart. Latency of
   each = the moment the email reached the SMTP sink - the occurrence's
   ``received_at`` (set when Alertmanager's POST reached the receiver).

Creates and drops its own database (SQLite file, or a PostgreSQL database
next to DATABASE_URL's) and its own redis-server. Run:
.venv/bin/python bench/bench_alerts.py [storm|latency]
"""

import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

ALERTS = int(os.environ.get("BENCH_ALERTS", "10000"))
PER_PAYLOAD = 100
CLIENTS = 4
ROUNDS = 3
LATENCY_ALERTS = int(os.environ.get("BENCH_LATENCY_ALERTS", "20"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
CELERY = str(Path(sys.executable).with_name("celery"))
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"

SEED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.alerts.sources import create_source
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
people = {}
for name in ("trainee", "primary"):
    people[name] = User.objects.create_user(name, email=f"{name}@example.com")
    Membership.objects.create(user=people[name], team=team)
if %(shift)r:
    now = timezone.now()
    ShadowShift.objects.create(team=team, trainee=people["trainee"], primary=people["primary"],
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2))
_source, token = create_source(team=team, name="bench")
print(team.pk, token)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


class Database:
    def __init__(self, folder: Path, label: str):
        base = os.environ.get("DATABASE_URL", "")
        self.postgres = base.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            import psycopg

            parts = urlsplit(base)
            self.name = f"oncall_alerts_bench_{label}_{os.getpid()}"
            self.admin_url = urlunsplit(parts._replace(path="/postgres"))
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        else:
            self.path = folder / "bench.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def query(self, sql: str) -> list[tuple]:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                cursor = conn.execute(sql)
                return cursor.fetchall() if cursor.description else []
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            rows = conn.execute(sql).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    def drop(self) -> None:
        if self.postgres:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Stack:
    """Database, redis-server and processes of one benchmark part; stopped in ``close``."""

    def __init__(self, label: str):
        self.folder = Path(tempfile.mkdtemp(prefix=f"oncall-bench-alerts-{label}-"))
        self.db = Database(self.folder, label)
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": self.db.url,
            "ONCALL_VAR_DIR": str(self.folder / "var"),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "oncall.settings",
        }
        redis_port = free_port()
        self.start(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            "redis",
        )  # fmt: skip
        self.env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"

    def manage(self, *args: str, code: str | None = None) -> str:
        command = [sys.executable, "manage.py", *args] + (["-c", code] if code else [])
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600
        )
        if done.returncode:
            raise RuntimeError(done.stderr)
        return done.stdout

    def start(self, command: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            command, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def gunicorn(self, app: str, port: int, env: dict | None = None) -> str:
        self.start(
            [GUNICORN, app, "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--log-level", "warning"],
            "gunicorn",
            env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        if not wait_until(lambda: answers(f"{url}/accounts/login/"), 60):
            raise RuntimeError((self.folder / "gunicorn.log").read_text())
        return url

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        self.db.drop()
        shutil.rmtree(self.folder, ignore_errors=True)


def storm_payloads(starts: datetime) -> list[bytes]:
    payloads = []
    for first in range(0, ALERTS, PER_PAYLOAD):
        alerts = [
            {
                "status": "firing",
                "labels": {"alertname": f"StormAlert{n % 50}", "severity": "warning",
                           "instance": f"node-{n}:9100", "job": "node"},
                "annotations": {"summary": f"Node {n} is unwell",
                                "description": "Load has been high for 10 minutes."},
                "startsAt": (starts + timedelta(milliseconds=n)).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
                "fingerprint": f"{n:016x}",
            }
            for n in range(first, min(first + PER_PAYLOAD, ALERTS))
        ]  # fmt: skip
        payloads.append(
            json.dumps(
                {"version": "4", "status": "firing", "receiver": "oncall", "groupKey": "{}:{}",
                 "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {"job": "node"},
                 "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
                 "alerts": alerts}
            ).encode()
        )  # fmt: skip
    return payloads


def post_all(port: int, path: str, payloads: list[bytes], token: str) -> tuple[float, list[dict]]:
    """Post every payload from CLIENTS threads over keep-alive connections; (seconds, answers)."""
    answers_: list[dict] = []
    lock = threading.Lock()
    queue = list(enumerate(payloads))
    start = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait()
        while True:
            with lock:
                if not queue:
                    break
                _index, body = queue.pop()
            conn.request(
                "POST", path, body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )  # fmt: skip
            response = conn.getresponse()
            data = response.read()
            with lock:
                answers_.append({"status": response.status, "body": data})
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0, answers_


def check_rows(db: Database) -> str:
    rows = db.query("SELECT COUNT(*) FROM alerts_alertoccurrence")[0][0]
    distinct = db.query(
        "SELECT COUNT(*) FROM (SELECT DISTINCT fingerprint, starts_at FROM alerts_alertoccurrence) t"
    )[0][0]
    lost, doubled = ALERTS - distinct, rows - distinct
    return f"{rows} rows, {lost} lost, {doubled} doubled"


def storm() -> None:
    stack = Stack("storm")
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        team_id, token = stack.manage("shell", code=SEED % {"shift": False}).split()[-2:]
        port = free_port()
        stack.gunicorn(
            "bench._alerts_baseline:application", port, {**stack.env, "BENCH_TEAM_ID": team_id}
        )
        payloads = storm_payloads(datetime.now(UTC) - timedelta(hours=1))
        engine = "PostgreSQL" if stack.db.postgres else "SQLite"
        print(
            f"storm: {engine}; {ALERTS} alerts in payloads of {PER_PAYLOAD}, {CLIENTS} clients, "
            f"gunicorn with 2 workers; load average {os.getloadavg()[0]:.2f}"
        )
        figures: dict[str, list[float]] = {"baseline": [], "receiver": []}
        for round_ in range(1, ROUNDS + 1):
            for name, path in (
                ("baseline", "/baseline/alertmanager/"),
                ("receiver", "/integrations/alertmanager/"),
            ):
                stack.db.query("DELETE FROM alerts_alertoccurrence")
                seconds, replies = post_all(port, path, payloads, token)
                bad = [r for r in replies if r["status"] != 200]
                rate = ALERTS / seconds
                figures[name].append(rate)
                extra = ""
                if name == "receiver":
                    new = sum(json.loads(r["body"])["new"] for r in replies if r["status"] == 200)
                    extra = f", {new} new"
                print(
                    f"  round {round_} {name:8}: {rate:7.0f} alerts/s ({seconds:.2f} s; "
                    f"{len(bad)} non-200{extra}; {check_rows(stack.db)})"
                )
        best = {name: max(rates) for name, rates in figures.items()}
        print(
            f"  best of {ROUNDS}: receiver {best['receiver']:.0f} alerts/s, baseline "
            f"{best['baseline']:.0f} alerts/s, ratio {best['receiver'] / best['baseline']:.2f}x"
        )
        seconds, replies = post_all(port, "/integrations/alertmanager/", payloads, token)
        updated = sum(json.loads(r["body"])["updated"] for r in replies if r["status"] == 200)
        deliveries = stack.db.query(
            "SELECT MIN(deliveries), MAX(deliveries) FROM alerts_alertoccurrence"
        )[0]
        print(
            f"  re-delivery of the storm: {ALERTS / seconds:7.0f} alerts/s, {updated} counted as "
            f"re-deliveries, deliveries per row {deliveries[0]}..{deliveries[1]}; "
            f"{check_rows(stack.db)}"
        )
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
    finally:
        stack.close()


class Sink:
    def __init__(self):
        self.arrivals: list[tuple[str, float]] = []

    async def handle_DATA(self, server, session, envelope):
        subject = next(
            (line.split(":", 1)[1].strip() for line in envelope.content.decode().splitlines()
             if line.startswith("Subject:")),
            "",
        )  # fmt: skip
        self.arrivals.append((subject, time.time()))
        return "250 OK"


def latency() -> None:
    if not os.path.exists(ALERTMANAGER):
        print("latency: skipped, prometheus-alertmanager is not installed")
        return
    stack = Stack("latency")
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        web_port = free_port()
        stack.env.update(
            {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port),
             "SITE_URL": f"http://127.0.0.1:{web_port}"}
        )  # fmt: skip
        stack.manage("migrate", "--noinput", "-v", "0")
        _team_id, token = stack.manage("shell", code=SEED % {"shift": True}).split()[-2:]
        site = stack.gunicorn("oncall.wsgi", web_port)
        stack.start(
            [CELERY, "-A", "oncall", "worker", "--concurrency", "2", "--without-gossip",
             "--without-mingle", "--loglevel", "WARNING"],
            "worker",
        )  # fmt: skip
        stack.start(
            [CELERY, "-A", "oncall", "beat", "--loglevel", "WARNING",
             "--schedule", str(stack.folder / "beat-schedule")],
            "beat",
        )  # fmt: skip
        am_port = free_port()
        config = stack.folder / "alertmanager.yml"
        config.write_text(
            "route:\n  receiver: oncall\n  group_by: [alertname]\n  group_wait: 1s\n"
            "  group_interval: 2s\n  repeat_interval: 1h\nreceivers:\n  - name: oncall\n"
            f"    webhook_configs:\n      - url: {site}/integrations/alertmanager/\n"
            "        send_resolved: true\n        http_config:\n          authorization:\n"
            f"            type: Bearer\n            credentials: {token}\n"
        )
        stack.start(
            [ALERTMANAGER, f"--config.file={config}", f"--storage.path={stack.folder / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            "alertmanager",
        )  # fmt: skip
        am = f"http://127.0.0.1:{am_port}"
        if not wait_until(lambda: answers(f"{am}/-/ready"), 30):
            raise RuntimeError((stack.folder / "alertmanager.log").read_text())
        time.sleep(5)  # worker and beat up
        print(
            f"latency: {'PostgreSQL' if stack.db.postgres else 'SQLite'}; {LATENCY_ALERTS} alerts "
            f"3 s apart through Alertmanager (group_wait 1s); beat with the default schedule; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        for n in range(LATENCY_ALERTS):
            alert = [{"labels": {"alertname": f"LatencyProbe{n}", "severity": "critical"},
                      "annotations": {"summary": f"probe {n}"},
                      "startsAt": datetime.now(UTC).isoformat()}]  # fmt: skip
            request = urllib.request.Request(
                f"{am}/api/v2/alerts", data=json.dumps(alert).encode(),
                headers={"Content-Type": "application/json"}, method="POST",
            )  # fmt: skip
            urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 - loopback
            time.sleep(3)
        if not wait_until(lambda: len(sink.arrivals) >= LATENCY_ALERTS, 120):
            print(f"  only {len(sink.arrivals)} of {LATENCY_ALERTS} emails arrived")
        received = dict(stack.db.query("SELECT alertname, received_at FROM alerts_alertoccurrence"))
        latencies = []
        for subject, arrived in sink.arrivals:
            name = subject.split(" ", 1)[0]
            at = received[name]
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            latencies.append(arrived - at.timestamp())
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
        emails = len(sink.arrivals)
        print(
            f"  receiver -> trainee's email: p50 {pick(0.5):.2f} s, p95 {pick(0.95):.2f} s, "
            f"max {latencies[-1]:.2f} s over {emails} emails "
            f"({len({s for s, _t in sink.arrivals})} distinct; target p95 <= 35 s)"
        )
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
    finally:
        controller.stop()
        stack.close()


def main() -> None:
    parts = sys.argv[1:] or ["storm", "latency"]
    if "storm" in parts:
        storm()
    if "latency" in parts:
        latency()


if __name__ == "__main__":
    main()
