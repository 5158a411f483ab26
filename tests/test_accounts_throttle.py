"""Sign-in throttling and rate limits: in-process through the test client, and shared by
two gunicorn workers and by two processes, in Redis and in the database (oncall/core/counters.py)."""

import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.urls import reverse

from oncall.accounts import throttle
from oncall.core.addresses import counted_as
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


def test_the_window_ends_and_attempts_are_allowed_again(client, trainee, settings):
    settings.THROTTLE_WINDOW = 5  # seconds: this test waits for it to end
    for _ in range(throttle.USERNAME_LIMIT):
        throttle.record_failure(username="trainee", address="192.0.2.1")
    assert attempt(client, "trainee", PASSWORD).status_code == 429
    assert wait_until(lambda: not throttle.seconds_blocked(username="trainee", address=ADDRESS), 10)
    assert attempt(client, "trainee", PASSWORD).status_code == 302


def test_a_live_block_is_never_evicted_by_other_failures(client, trainee, db):
    """16 addresses x 20 failures once pushed the database cache past its 300
    entries, and culling lifted blocks that still had minutes to run."""
    for _ in range(throttle.USERNAME_LIMIT):
        throttle.record_failure(username="trainee", address="192.0.2.1")
    blocked = throttle.seconds_blocked(username="trainee", address=ADDRESS)
    assert blocked > 0
    for host in range(16):
        for n in range(throttle.ADDRESS_LIMIT):
            throttle.record_failure(username=f"guess-{host}-{n}", address=f"198.51.100.{host}")
    assert throttle.seconds_blocked(username="trainee", address=ADDRESS) > 0
    assert attempt(client, "trainee", PASSWORD).status_code == 429
    for host in range(16):
        assert throttle.seconds_blocked(username="anyone", address=f"198.51.100.{host}") > 0


# -- which address counts -----------------------------------------------------------------


def test_behind_the_proxy_the_last_forwarded_address_counts_and_earlier_ones_are_ignored(
    client, trainee, settings
):
    """The proxy appends the address it saw (docs/deploy.md); what came before is the client's."""
    for n in range(throttle.ADDRESS_LIMIT):
        throttle.record_failure(username=f"nobody-{n}", address="203.0.113.9")

    def sign_in(forwarded: str) -> int:
        return client.post(
            reverse("login"),
            {"username": "trainee", "password": PASSWORD},
            headers={"X-Forwarded-For": forwarded},
        ).status_code

    # Served directly, the header is anyone's to write: the connection's address counts.
    settings.BEHIND_TLS_PROXY = False
    assert sign_in("203.0.113.9") == 302
    client.logout()

    settings.BEHIND_TLS_PROXY = True
    assert sign_in("203.0.113.9") == 429
    assert sign_in("198.51.100.1, 10.0.0.1, 203.0.113.9") == 429  # a forged chain gains nothing
    assert sign_in("203.0.113.9, 198.51.100.1") == 302  # the proxy saw 198.51.100.1


def test_an_ipv6_client_counts_by_its_64_network(client, trainee, settings):
    for n in range(throttle.ADDRESS_LIMIT):
        throttle.record_failure(username=f"nobody-{n}", address=counted_as(f"2001:db8:5:6::{n:x}"))
    response = client.post(
        reverse("login"),
        {"username": "trainee", "password": PASSWORD},
        REMOTE_ADDR="2001:db8:5:6:aaaa:bbbb:cccc:dddd",
    )
    assert response.status_code == 429
    other = client.post(
        reverse("login"),
        {"username": "trainee", "password": PASSWORD},
        REMOTE_ADDR="2001:db8:5:7::1",
    )
    assert other.status_code == 302


def test_the_admin_login_goes_through_the_throttled_sign_in(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


# -- shared by every process: two gunicorn workers, two processes ------------------------------

# The store the counts live in: Redis when the run has one (the PostgreSQL
# configuration), and the database in every run (SQLite, and PostgreSQL with
# REDIS_URL left out of the app's environment).
STORES = ["redis", "database"] if os.environ.get("REDIS_URL") else ["database"]


@pytest.fixture(scope="module", params=STORES)
def stack(request, tmp_path_factory):
    """A migrated database of the module's own, two users, and the app's environment
    for the store under test."""
    folder = tmp_path_factory.mktemp(f"limits-{request.param}")
    db = StackDatabase(folder, label=f"limits_{request.param}")
    env = app_env(db, folder, DEBUG="true")
    if request.param == "database":
        env.pop("REDIS_URL", None)
    else:
        # The app counts without a test's key prefix, in this run's own Redis
        # database: counts left by an earlier run must not count here.
        shared = redis.Redis.from_url(env["REDIS_URL"])
        for pattern in (":1:login:*", ":1:ratelimit:*", ":1:shared:*"):
            for key in shared.scan_iter(pattern):
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
    try:
        yield request.param, env, db
    finally:
        db.drop()


@pytest.fixture
def gunicorn(stack, tmp_path):
    """The app under gunicorn with two workers, logging which worker answered."""
    _store, env, _db = stack
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
        assert wait_until(lambda: len(_worker_pids(server.pid)) == 2, 30), "no two workers"
        yield url, log, _worker_pids(server.pid)
    finally:
        server.terminate()
        server.wait(20)


def _post(url: str, username: str, password: str) -> requests.Response:
    # A fresh connection each time, so either worker may take it.
    with requests.Session() as s:
        return _sign_in(s, url, username, password)


def _sign_in(s: requests.Session, url: str, username: str, password: str) -> requests.Response:
    page = s.get(f"{url}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    return s.post(
        f"{url}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Connection": "close"},
        allow_redirects=False,
        timeout=10,
    )


def _workers(log, status: str = "", path: str = "") -> set[str]:
    """The workers that answered POSTs (to ``path``, with ``status``, when given)."""
    lines = [line.split() for line in log.read_text().splitlines() if " POST " in line]
    return {
        fields[0]
        for fields in lines
        if (not status or fields[-1] == status) and (not path or fields[2] == path)
    }


def _answered(log, workers: set[str], status: str = "", path: str = "") -> bool:
    """Whether exactly ``workers`` answered those POSTs. A worker writes its
    access-log line after the response has gone, so the line may come later."""
    return wait_until(lambda: _workers(log, status, path) == workers, 10)


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
def test_two_gunicorn_workers_share_the_sign_in_count(gunicorn):
    url, log, (first, second) = gunicorn
    # Every failure is counted by the first worker ...
    with _only(first, [first, second]):
        statuses = [
            _post(url, "trainee", "wrong").status_code for _ in range(throttle.USERNAME_LIMIT)
        ]
    assert statuses == [200] * throttle.USERNAME_LIMIT
    assert _answered(log, {f"<{first}>"})
    # ... and the second worker, which counted none of them, refuses the next.
    with _only(second, [first, second]):
        refused = _post(url, "trainee", "wrong").status_code
    assert refused == 429
    assert _answered(log, {f"<{second}>"}, "429")


@pytest.mark.slow
def test_two_gunicorn_workers_share_a_rate_limit(gunicorn):
    """Five new calendar links an hour: not five per worker (ten with two)."""
    url, log, (first, second) = gunicorn
    path = "/profile/calendar-token/"
    with requests.Session() as s:
        with _only(first, [first, second]):
            assert _sign_in(s, url, "busy", PASSWORD).status_code == 302
            token = s.cookies["csrftoken"]

            def regenerate() -> int:
                return s.post(
                    f"{url}{path}",
                    headers={"X-CSRFToken": token, "Connection": "close"},
                    allow_redirects=False,
                    timeout=10,
                ).status_code

            made = [regenerate() for _ in range(5)]
        assert made == [302] * 5
        assert _answered(log, {f"<{first}>"}, path=path)
        with _only(second, [first, second]):
            refused = regenerate()
    assert refused == 429
    assert _answered(log, {f"<{second}>"}, "429", path)


COUNT_IN_A_PROCESS = """
from oncall.core import counters
for _ in range({n}):
    counters.add_one("shared:concurrent", seconds=600)
"""


@pytest.mark.slow
def test_two_processes_counting_at_once_lose_no_count(stack):
    """Each count is one atomic step in either store: 2 x 150 at once make 300."""
    _store, env, _db = stack
    n = 150
    script = COUNT_IN_A_PROCESS.format(n=n)
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        _out, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors[-3000:]
    shown = manage(
        env,
        "shell",
        "-c",
        "from oncall.core import counters; print(counters.read(['shared:concurrent']))",
    )
    assert "Window(count=300," in shown
