"""A sync requested the way the admin does it, carried out by a real Celery worker.

The test runs a stack of its own: a database migrated by ``manage.py migrate``
(an SQLite file, or a PostgreSQL database next to the test database), the
configured broker (the filesystem transport under the stack's var/ folder, or
Redis when REDIS_URL is set) and a ``celery -A oncall worker`` subprocess.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))

pytestmark = pytest.mark.slow

REQUEST = """
from django.db import transaction
from oncall.runbooks.tasks import request_sync
with transaction.atomic():
    run = request_sync(folders=[{folder!r}])
print(run.pk)
"""


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.fixture
def stack(tmp_path):
    base = os.environ.get("DATABASE_URL", "")
    env = {
        **os.environ,
        "ONCALL_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "oncall.settings",
        "LOG_LEVEL": "WARNING",
    }
    admin_url = name = None
    if base.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(base)
        name = f"oncall_runbooks_worker_{os.getpid()}"
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))

        def query(sql):
            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
                return conn.execute(sql).fetchall()
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'stack.sqlite3'}"

        def query(sql):
            conn = sqlite3.connect(tmp_path / "stack.sqlite3", timeout=20)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()

    for folder in ("broker/queue", "broker/control"):
        (tmp_path / "var" / folder).mkdir(parents=True, exist_ok=True)

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput", "-v", "0")
    log_path = tmp_path / "worker.log"
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            [CELERY, "-A", "oncall", "worker", "--pool", "solo", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"runbooks-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        assert wait_until(lambda: b" ready." in log_path.read_bytes(), 30), log_path.read_text()
        yield manage, query, log_path
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        if admin_url is not None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_requested_sync_is_carried_out_by_the_worker(stack, tmp_path):
    manage, query, log_path = stack
    folder = tmp_path / "runbooks"
    (folder / "svc").mkdir(parents=True)
    (folder / "svc" / "DiskFull.md").write_text("# Disk full\n\nGrow the volume.\n")
    (folder / "svc" / "broken.md").write_text("---\nreview_every: soon\n---\n# Broken\n")

    run_id = int(manage("shell", "-c", REQUEST.format(folder=str(folder))).split()[-1])

    def finished():
        rows = query(f"SELECT state FROM runbooks_syncrun WHERE id = {run_id}")  # noqa: S608
        return rows and rows[0][0] not in ("pending", "running")

    assert wait_until(finished, 60), log_path.read_text()
    state, summary, log = query(
        f"SELECT state, summary, log FROM runbooks_syncrun WHERE id = {run_id}"  # noqa: S608
    )[0]
    assert state == "failed"
    assert summary == "created 1, updated 0, unchanged 0, archived 0, failed 1"
    assert "broken.md: review_every must be a whole number of days" in log
    assert query("SELECT slug FROM runbooks_runbook") == [("svc/diskfull",)]
