"""Sign-in throttling: in-process through the test client, and across two gunicorn workers."""

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.urls import reverse

from oncall.accounts import throttle
from tests.conftest import PASSWORD
from tests.stack import ROOT, StackDatabase, app_env, free_port, manage, wait_until

ADDRESS = "127.0.0.1"


@pytest.fixture(autouse=True)
def _fresh_counters(db):
    # With Redis the counters outlive a test run: start and end from zero.
    throttle.forget(username="trainee", address=ADDRESS)
    yield
    throttle.forget(username="trainee", address=ADDRESS)


def attempt(client, username: str, password: str = "wrong"):  # noqa: S107
    return client.post(reverse("login"), {"username": username, "password": password})


def test_it_refuses_the_sixth_attempt_for_a_username_with_429(client, trainee):
    for _ in range(throttle.USERNAME_LIMIT):
        assert attempt(client, "trainee").status_code == 200
    response = attempt(client, "trainee", PASSWORD)  # even the right password waits
    assert response.status_code == 429
    assert "Too many sign-in attempts. Try again in 15 minutes." in response.content.decode()
    assert b'value="trainee"' in response.content


def test_a_throttled_attempt_hashes_no_password(client, trainee, monkeypatch):
    for _ in range(throttle.USERNAME_LIMIT):
        attempt(client, "trainee")
    hashed = []
    original = PBKDF2PasswordHasher.verify
    monkeypatch.setattr(
        PBKDF2PasswordHasher, "verify", lambda self, *a: hashed.append(1) or original(self, *a)
    )
    assert attempt(client, "trainee").status_code == 429
    assert hashed == []


def test_a_successful_sign_in_resets_the_username(client, trainee):
    for _ in range(throttle.USERNAME_LIMIT - 1):
        attempt(client, "trainee")
    assert attempt(client, "trainee", PASSWORD).status_code == 302
    client.logout()
    for _ in range(throttle.USERNAME_LIMIT - 1):
        assert attempt(client, "trainee").status_code == 200


def test_usernames_are_counted_without_regard_to_case(client, trainee):
    for name in ("trainee", "Trainee", "TRAINEE", "trainee ", "tRainee"):
        attempt(client, name)
    assert attempt(client, "trainee", PASSWORD).status_code == 429


def test_one_address_is_stopped_after_twenty_failures(client, db):
    names = [f"nobody-{i}" for i in range(throttle.ADDRESS_LIMIT)]
    try:
        for name in names:
            assert attempt(client, name).status_code == 200
        assert attempt(client, "someone-else").status_code == 429
    finally:
        for name in [*names, "someone-else"]:
            throttle.forget(username=name)


def test_the_window_ends_and_attempts_are_allowed_again(client, trainee, monkeypatch):
    for _ in range(throttle.USERNAME_LIMIT):
        attempt(client, "trainee")
    assert attempt(client, "trainee", PASSWORD).status_code == 429
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(throttle.time, "time", lambda: later)
    assert attempt(client, "trainee", PASSWORD).status_code == 302


def test_the_admin_login_goes_through_the_throttled_sign_in(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


# -- two gunicorn workers sharing the counter ---------------------------------------------


@pytest.fixture
def gunicorn(tmp_path):
    """The app under gunicorn with two workers, on its own database (and the
    test's Redis db when REDIS_URL is set), logging which worker answered."""
    db = StackDatabase(tmp_path, label="throttle")
    env = app_env(db, tmp_path, DEBUG="true")
    if env.get("REDIS_URL"):
        # The app counts under its own prefix, which outlives this test by the
        # throttle's window: a run a few minutes ago must not count here.
        shared = redis.Redis.from_url(env["REDIS_URL"])
        for key in shared.scan_iter("throttle:*"):
            shared.delete(key)
    manage(env, "migrate", "--noinput", "-v", "0", timeout=300)
    manage(
        env,
        "shell",
        "-c",
        f"from django.contrib.auth.models import User; "
        f"User.objects.create_user('trainee', password='{PASSWORD}'); "
        f"User.objects.create_user('busy', password='{PASSWORD}')",
    )
    port = free_port()
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "oncall.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(log),
            "--access-logformat",
            "%(p)s %(m)s %(U)s %(s)s",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return requests.get(f"{url}/accounts/login/", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(up, 60), "gunicorn did not start"
        yield url, log, server.pid
    finally:
        server.terminate()
        server.wait(20)
        db.drop()


def _post(url: str, username: str, password: str) -> requests.Response:
    # A fresh connection each time, so either worker may take it.
    with requests.Session() as s:
        page = s.get(f"{url}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        return s.post(
            f"{url}/accounts/login/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Connection": "close"},
            allow_redirects=False,
            timeout=10,
        )


def _workers(log, status: str = "") -> set[str]:
    """The workers that answered sign-in POSTs (with ``status``, when given)."""
    lines = [line.split() for line in log.read_text().splitlines() if " POST " in line]
    return {fields[0] for fields in lines if not status or fields[-1] == status}


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return sorted(int(pid) for pid in children.read_text().split())


@contextmanager
def _only(worker: int, workers: list[int]):
    """Requests go to ``worker``: the others are stopped (they cannot accept) meanwhile."""
    others = [pid for pid in workers if pid != worker]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


@pytest.mark.slow
def test_two_gunicorn_workers_share_the_count(gunicorn):
    url, log, master = gunicorn
    assert wait_until(lambda: len(_worker_pids(master)) == 2, 30), "two workers did not start"
    first, second = _worker_pids(master)
    user = "trainee"
    # Every failure is counted by the first worker ...
    with _only(first, [first, second]):
        statuses = [_post(url, user, "wrong").status_code for _ in range(throttle.USERNAME_LIMIT)]
    assert statuses == [200] * throttle.USERNAME_LIMIT
    assert _workers(log) == {f"<{first}>"}
    # ... and the second worker, which counted none of them, refuses the next.
    with _only(second, [first, second]):
        refused = _post(url, user, "wrong").status_code
    assert refused == 429
    assert _workers(log, "429") == {f"<{second}>"}
