"""Reminders under faults, with the real parts: Celery workers, Redis, SMTP.

Each test runs against a stack of its own, so it can break things freely:

- a database of its own: a PostgreSQL database next to the test database when
  DATABASE_URL points at PostgreSQL, otherwise an SQLite file, migrated by
  ``manage.py migrate`` as a deployment would;
- a throwaway ``redis-server`` on a free loopback port (stopped and restarted
  by the Redis test), used as the broker in both configurations;
- ``celery -A oncall worker`` subprocesses (killed with SIGKILL by one test);
- an SMTP server on loopback in this process.

The test itself plays beat: it sends the "dispatch" message every second, as
beat does every 30 s. Every wait is bounded; every process is stopped in a
``finally``.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.stack import StackDatabase, free_port, wait_until
from tests.test_reminders_peers import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
DISPATCH = "oncall.reminders.tasks.dispatch"
PLAN = "oncall.reminders.tasks.plan"

pytestmark = pytest.mark.slow


class Stack:
    def __init__(self, folder: Path):
        self.folder = folder
        self.db = StackDatabase(folder)
        self.redis_port = free_port()
        self.redis: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.smtp_port = 0
        self.env = {
            **os.environ,
            "DATABASE_URL": self.db.url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "ONCALL_VAR_DIR": str(folder / "var"),
            "WEBHOOKS_ALLOW_PRIVATE": "true",
            "DJANGO_SETTINGS_MODULE": "oncall.settings",
            "EMAIL_HOST": "127.0.0.1",
        }
        self.beat_app = Celery(broker=self.env["REDIS_URL"])
        self.beat_app.conf.broker_connection_retry_on_startup = False
        self.beat_app.conf.broker_transport_options = {"max_retries": 0}

    # -- parts --

    def manage(self, *args: str, code: str | None = None) -> str:
        command = [sys.executable, "manage.py", *args]
        if code is not None:
            command += ["-c", code]
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self._redis_answers, 10), "redis-server did not start"

    def _redis_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait(timeout=10)
            self.redis = None

    def start_worker(self, name: str, *, smtp_port: int, concurrency: int = 1):
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        worker = subprocess.Popen(
            [
                CELERY,
                "-A",
                "oncall",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env={**self.env, "EMAIL_PORT": str(smtp_port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the pool too
        )
        worker.log_path = self.folder / f"{name}.log"
        worker.log_file = log
        self.workers.append(worker)
        assert wait_until(lambda: b" ready." in worker.log_path.read_bytes(), 30), (
            worker.log_path.read_text()
        )
        return worker

    def kill_worker(self, worker, sig=signal.SIGKILL) -> None:
        if worker.poll() is None:
            os.killpg(worker.pid, sig)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        worker.log_file.close()

    def stop_workers(self) -> None:
        for worker in self.workers:
            self.kill_worker(worker, signal.SIGTERM)
        self.workers = []

    def send(self, task: str) -> bool:
        """Publish a task as beat would; False while the broker is away."""
        try:
            self.beat_app.send_task(task, retry=False)
        except Exception:  # noqa: BLE001 - a down broker, as beat sees it
            return False
        return True

    # -- data --

    def seed_reminders(self, prefix: str, count: int, *, due_in: float = 0.0, spread: float = 0.0):
        self.manage(
            "shell",
            code=f"""
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.reminders.models import Reminder
User = get_user_model()
now = timezone.now()
users = [
    User.objects.get_or_create(username=f"{prefix}{{i}}", defaults={{"email": f"{prefix}{{i}}@example.com"}})[0]
    for i in range(4)
]
rows = []
for n in range({count}):
    due = now + timedelta(seconds={due_in} + {spread} * n / {count})
    rows.append(Reminder(recipient=users[n % 4], kind="test", channel="email", due_at=due,
        next_attempt_at=due, dedupe_key=f"{prefix}:{{n}}", subject=f"{prefix} {{n}}"))
Reminder.objects.bulk_create(rows)
""",
        )

    def states(self, prefix: str) -> dict[str, int]:
        rows = self.db.query(
            "SELECT state, COUNT(*) FROM reminders_reminder WHERE dedupe_key LIKE %s GROUP BY state",
            (f"{prefix}:%",),
        )
        return dict(rows)

    def all_sent(self, prefix: str, count: int) -> bool:
        return self.states(prefix) == {"sent": count}


class Beat:
    """Sends the dispatch message every ``interval`` seconds in a thread, like beat."""

    def __init__(self, stack: Stack, *tasks: str, interval: float = 1.0):
        self.stack, self.tasks, self.interval = stack, tasks or (DISPATCH,), interval
        self.stopped = threading.Event()
        self.published = 0
        self.refused = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopped.is_set():
            for task in self.tasks:
                if self.stack.send(task):
                    self.published += 1
                else:
                    self.refused += 1
            self.stopped.wait(self.interval)

    def __enter__(self) -> "Beat":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("reminders-stack"))
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_redis()
        yield stack
    finally:
        stack.stop_workers()
        stack.stop_redis()
        stack.db.drop()


@pytest.fixture
def sink():
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


def assert_each_delivered_once(sink: SmtpSink, count: int) -> None:
    ids = sink.message_ids()
    assert len(ids) == count, f"{len(ids)} messages for {count} reminders"
    assert len(set(ids)) == count, "a reminder was delivered twice"


def test_it_delivers_every_reminder_once_after_a_worker_is_killed_mid_batch(stack, sink):
    stack.seed_reminders("kill", 200)
    # The 60th message waits at the server until the worker is dead, so the
    # kill lands mid-send, mid-batch, with rows claimed and not yet sent.
    sink.trap_at = 60
    worker = stack.start_worker("doomed", smtp_port=sink.port)
    try:
        assert stack.send(DISPATCH)
        assert sink.trapped.wait(60), worker.log_path.read_text()
        stack.kill_worker(worker)  # kill -9 of the worker and its pool
        # The server answers only once it has seen the sender hang up, as it
        # would after a kill; on a loaded machine that takes a moment.
        assert wait_until(sink.trapped_sender_gone, 30)
        sink.release.set()
        states = stack.states("kill")
        assert states["sent"] == 59
        assert states["sending"] >= 1  # the rest of the claimed batch, stranded
        assert states["sent"] + states["sending"] + states.get("pending", 0) == 200

        # Ten minutes later, as far as the claims can tell: the sweep may take them back.
        if stack.db.postgres:
            stack.db.query(
                "UPDATE reminders_reminder SET claimed_at = claimed_at - interval '11 minutes' "
                "WHERE state = 'sending'"
            )
        else:
            stack.db.query(
                "UPDATE reminders_reminder SET claimed_at = "
                "strftime('%Y-%m-%d %H:%M:%f', claimed_at, '-11 minutes') WHERE state = 'sending'"
            )
        stack.start_worker("restarted", smtp_port=sink.port)
        with Beat(stack):
            assert wait_until(lambda: stack.all_sent("kill", 200), 90), stack.states("kill")
    finally:
        stack.stop_workers()
    assert_each_delivered_once(sink, 200)
    attempts = dict(
        stack.db.query(
            "SELECT dedupe_key, attempts FROM reminders_reminder WHERE dedupe_key LIKE 'kill:%%'"
        )
    )
    assert attempts["kill:0"] == 1
    assert attempts["kill:59"] == 2  # the one in flight at the kill, sent on its second try


def test_it_never_sends_twice_with_dispatchers_racing(stack, sink):
    stack.seed_reminders("race", 400)
    try:
        stack.start_worker("racer-a", smtp_port=sink.port, concurrency=2)
        stack.start_worker("racer-b", smtp_port=sink.port, concurrency=2)
        for _ in range(8):  # eight "go" messages at once: four processes race for rows
            assert stack.send(DISPATCH)
        assert wait_until(lambda: stack.all_sent("race", 400), 90), stack.states("race")
    finally:
        stack.stop_workers()
    assert_each_delivered_once(sink, 400)
    batches = stack.db.query(
        "SELECT COUNT(DISTINCT claimed_by) FROM reminders_reminder WHERE dedupe_key LIKE 'race:%%'"
    )[0][0]
    assert batches >= 8
    assert stack.db.query(
        "SELECT MAX(attempts) FROM reminders_reminder WHERE dedupe_key LIKE 'race:%%'"
    ) == [(1,)]


def test_it_delivers_reminders_that_fell_due_while_redis_was_down(stack, sink):
    try:
        stack.start_worker("survivor", smtp_port=sink.port)
        # Seeded once the worker is up: none is due before the broker goes.
        stack.seed_reminders("outage", 50, due_in=4, spread=3)
        with Beat(stack) as beat:
            stack.stop_redis()
            # All 50 fall due while the broker is gone; nothing can be sent.
            time.sleep(9)
            assert stack.states("outage") == {"pending": 50}
            assert beat.refused > 0
            stack.start_redis()  # empty: every message queued before is lost
            assert wait_until(lambda: stack.all_sent("outage", 50), 90), stack.states("outage")
    finally:
        stack.stop_workers()
    assert_each_delivered_once(sink, 50)


def test_it_reminds_trainee_and_primary_of_a_new_shift_through_the_worker(stack, sink):
    stack.manage(
        "shell",
        code="""
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="newshift", name="New shift", time_zone="Asia/Tokyo")
people = {}
for name in ("newtrainee", "newprimary"):
    people[name] = User.objects.create_user(name, email=f"{name}@example.com")
    Membership.objects.create(user=people[name], team=team)
now = timezone.now()
# Starts an hour and five seconds from now: the 1 h reminder falls due in five
# seconds; the 24 h one was gone before the shift existed.
ShadowShift.objects.create(team=team, trainee=people["newtrainee"], primary=people["newprimary"],
    starts_at=now + timedelta(hours=1, seconds=5), ends_at=now + timedelta(hours=9),
    time_zone="Asia/Tokyo", created_at=now, updated_at=now)
""",
    )
    try:
        stack.start_worker("planner", smtp_port=sink.port)
        with Beat(stack, PLAN, DISPATCH):
            assert sink.wait_for(2, 60)
            time.sleep(3)  # more plan and dispatch rounds: still two
    finally:
        stack.stop_workers()
    assert sorted(to for to, _subject in sink.subjects()) == [
        "newprimary@example.com",
        "newtrainee@example.com",
    ]
    assert all(" in 1 hour (" in subject for _to, subject in sink.subjects())
    assert stack.db.query(
        "SELECT state, COUNT(*) FROM reminders_reminder WHERE kind = 'shift_upcoming' GROUP BY state"
    ) == [("sent", 2)]
