"""Reminder dispatch throughput and lateness against a loopback SMTP sink.

1. Baselines: the same 10,000 messages (subject, text and HTML bodies,
   Message-ID) sent by plain smtplib over one connection from one process,
   (a) composing each with the standard library's email package, as a plain
   script would, and (b) as bytes built beforehand: the most any sender could
   get out of this sink on this machine.
2. Reminders: 10,000 due rows in a database of the benchmark's own, sent by
   two Celery worker processes through the production path (claim with a
   conditional UPDATE, send, write the outcome per row), once with one pool
   process per worker and once with two (as the Procfile runs them). One
   "dispatch" message starts each run, as a beat tick would; the first full
   batch enqueues a sibling, and so on, so every pool process joins in.

Prints throughput of each, their ratio, and p50/p99/max lateness
(sent_at - due_at). Creates and drops its own database (an SQLite file, or a
PostgreSQL database next to DATABASE_URL's) and its own redis-server when one
is installed (else the filesystem broker). Run: .venv/bin/python bench/bench_reminders.py
"""

import email.policy
import email.utils
import os
import pickle
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

COUNT = int(os.environ.get("BENCH_REMINDERS", "10000"))
WORKERS = 2
# Pool processes per worker: 1 is "two worker processes" to the letter; the
# Procfile runs 2, which overlaps one process's network wait with another's work.
CONCURRENCIES = [1, 2]
CELERY = str(Path(sys.executable).with_name("celery"))


class CountingSink:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


def free_port() -> int:
    import socket

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


class Database:
    def __init__(self, folder: Path):
        base = os.environ.get("DATABASE_URL", "")
        self.postgres = base.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            import psycopg

            parts = urlsplit(base)
            self.name = f"oncall_reminders_bench_{os.getpid()}"
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


SEED = """
from datetime import datetime
from email.message import EmailMessage
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.reminders.models import Reminder
User = get_user_model()
due = datetime.fromisoformat("{due}")
users = [User.objects.create_user(f"bench{{i}}", email=f"bench{{i}}@example.com") for i in range(20)]
Reminder.objects.bulk_create(
    [
        Reminder(recipient=users[n % 20], kind="test", channel="email", due_at=due,
            next_attempt_at=due, dedupe_key=f"bench:{{n}}",
            subject=f"Shadow shift with primary in 1 hour (reminder {{n}})",
            body="Shadow shift with Priya, team Payments.\\nStarts: Tue 10 Mar 10:00 JST",
            link="http://127.0.0.1:8000/shifts/1/")
        for n in range({count})
    ],
    batch_size=1000,
)
"""

BUILD = """
import email.policy, pickle
from django.template.loader import render_to_string
from oncall.reminders.channels import build_email
from oncall.reminders.models import Reminder
out = []
for r in Reminder.objects.select_related("recipient").order_by("pk"):
    context = {{"reminder": r, "recipient": r.recipient}}
    out.append({{
        "from": "oncall <oncall@localhost>",
        "to": r.recipient.email,
        "subject": r.subject,
        "message_id": r.message_id,
        "text": render_to_string("reminders/email.txt", context),
        "html": render_to_string("reminders/email.html", context),
        "bytes": build_email(r).message(policy=email.policy.SMTP).as_bytes(),
    }})
pickle.dump(out, open("{path}", "wb"))
"""


def compose(message: dict) -> bytes:
    """What a plain smtplib script does per message: the standard library's email."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = message["subject"]
    mail["From"] = message["from"]
    mail["To"] = message["to"]
    mail["Date"] = email.utils.formatdate(localtime=True)
    mail["Message-ID"] = message["message_id"]
    mail.set_content(message["text"])
    mail.add_alternative(message["html"], subtype="html")
    return mail.as_bytes()


def stop_workers(workers: list) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
    workers.clear()


def run_reminders(db, env, folder, sink, workers, concurrency, baselines) -> None:
    sink.count = 0
    for n in range(WORKERS):
        log = open(folder / f"worker{n}-{concurrency}.log", "wb")  # noqa: SIM115
        workers.append(
            subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "oncall",
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    str(concurrency),
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench{n}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    time.sleep(4)  # let both workers connect
    now_sql = "now()" if db.postgres else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    db.query(
        "UPDATE reminders_reminder SET state = 'pending', attempts = 0, sent_at = NULL, "  # noqa: S608
        f"claimed_by = '', due_at = {now_sql}, next_attempt_at = {now_sql}"
    )
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from oncall.reminders.tasks import dispatch; dispatch.delay()",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    def sent() -> int:
        return db.query("SELECT COUNT(*) FROM reminders_reminder WHERE state = 'sent'")[0][0]

    finished = wait_until(lambda: sent() == COUNT, 600, interval=0.5)
    seconds = time.perf_counter() - t0
    done = sent()
    throughput = done / seconds
    label = f"reminders, {WORKERS} workers x {concurrency} pool process(es)"
    print(
        f"{label:47}: {throughput:6.0f} msg/s "
        f"({seconds:.1f} s, {done} sent{'' if finished else ', TIMED OUT'})"
    )
    for name, baseline in baselines.items():
        print(f"  ratio to smtplib {name:28}: {throughput / baseline:6.2f}")
    if db.postgres:
        lateness_sql = (
            "SELECT EXTRACT(EPOCH FROM sent_at - due_at) FROM reminders_reminder "
            "WHERE state = 'sent'"
        )
    else:
        lateness_sql = (
            "SELECT (julianday(sent_at) - julianday(due_at)) * 86400.0 "
            "FROM reminders_reminder WHERE state = 'sent'"
        )
    lateness = sorted(float(row[0]) for row in db.query(lateness_sql))
    p = lambda q: lateness[min(len(lateness) - 1, int(q * len(lateness)))]  # noqa: E731
    print(
        f"  lateness (sent_at - due_at): p50 {p(0.50):.2f} s, p99 {p(0.99):.2f} s, "
        f"max {lateness[-1]:.2f} s"
    )
    doubled = sink.count - done
    print(
        f"  messages at the sink: {sink.count} for {done} sent rows "
        f"({'none doubled' if doubled == 0 else f'{doubled} extra'})"
    )


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="oncall-bench-reminders-"))
    db = Database(folder)
    sink = CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    redis = None
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "ONCALL_VAR_DIR": str(folder / "var"),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    redis_server = shutil.which("redis-server")
    if redis_server:
        redis_port = free_port()
        redis = subprocess.Popen(
            [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    workers = []

    def manage(*args, code=None):
        command = [sys.executable, "manage.py", *args] + (["-c", code] if code else [])
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)

    try:
        print(
            f"database: {'PostgreSQL' if db.postgres else 'SQLite'}; broker: "
            f"{'Redis' if redis else 'filesystem'}; {COUNT} reminders; {WORKERS} workers"
        )
        manage("migrate", "--noinput", "-v", "0")
        start = time.time()
        due = datetime.fromtimestamp(start + 3600).astimezone().isoformat()
        manage("shell", code=SEED.format(due=due, count=COUNT))

        # 1. Baseline: the same messages through plain smtplib, one process, one connection.
        pickled = folder / "messages.pickle"
        manage("shell", code=BUILD.format(path=pickled))

        messages = pickle.loads(pickled.read_bytes())  # noqa: S301 - written just above
        baselines = {}
        for label, raw_of in [
            ("composed per message", compose),
            ("pre-built bytes", lambda message: message["bytes"]),
        ]:
            sink.count = 0
            t0 = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
                for message in messages:
                    smtp.sendmail(message["from"], [message["to"]], raw_of(message))
            elapsed = time.perf_counter() - t0
            assert sink.count == COUNT, sink.count
            baselines[label] = COUNT / elapsed
            print(
                f"{'plain smtplib, 1 process, ' + label:47}: {baselines[label]:6.0f} msg/s "
                f"({elapsed:.1f} s)"
            )

        # 2. Reminders, for each pool size: every row pending and due now,
        #    two fresh workers, one dispatch message as a beat tick would send.
        for concurrency in CONCURRENCIES:
            run_reminders(db, env, folder, sink, workers, concurrency, baselines)
            stop_workers(workers)
    finally:
        stop_workers(workers)
        if redis is not None:
            redis.kill()
            redis.wait()
        controller.stop()
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
