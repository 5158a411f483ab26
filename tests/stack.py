"""Plumbing for tests that run parts of the app in processes of their own.

A free loopback port, a bounded wait, and a database of the test's own that
the processes can share: a PostgreSQL database beside the test database when
DATABASE_URL points at PostgreSQL, otherwise an SQLite file; migrated with
``manage.py migrate`` as a deployment would.
"""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class StackDatabase:
    """A database of the test's own, read with plain SQL from the test."""

    def __init__(self, folder: Path, *, label: str = "stack"):
        base = os.environ.get("DATABASE_URL", "")
        if base.startswith(("postgres://", "postgresql://")):
            parts = urlsplit(base)
            self.name = f"oncall_{label}_{os.getpid()}"
            self.admin_url = urlunsplit(parts._replace(path="/postgres"))
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
            self.postgres = True
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')
        else:
            self.path = folder / f"{label}.sqlite3"
            self.url = f"sqlite:///{self.path}"
            self.postgres = False

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.postgres:
            with psycopg.connect(self.url, autocommit=True) as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        with sqlite3.connect(self.path, timeout=20) as conn:
            cursor = conn.execute(sql.replace("%s", "?"), params)
            rows = cursor.fetchall()
        conn.close()
        return rows

    def drop(self) -> None:
        if self.postgres:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def app_env(db: StackDatabase, folder: Path, **extra: str) -> dict:
    """The environment for a process of the app using ``db``."""
    return {
        **os.environ,
        "DATABASE_URL": db.url,
        "ONCALL_VAR_DIR": str(folder / "var"),
        "DJANGO_SETTINGS_MODULE": "oncall.settings",
        **extra,
    }


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    """Run ``manage.py`` with ``env``; its output, or an AssertionError with its errors."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def need(found: bool, message: str) -> None:
    """Go on only with a part the test must run against: under CI (which installs
    it, see .ci/run) a missing part fails the run; on a laptop it skips, saying
    what to install."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI installs it: .ci/run)")
    pytest.skip(message)
