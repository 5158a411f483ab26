"""/metrics under gunicorn with two workers, as production runs it (gunicorn.conf.py).

- Request counts are the sum over both workers, whichever one answers the
  scrape, and survive a worker being killed (prometheus-client multiprocess
  mode, PROMETHEUS_MULTIPROC_DIR chosen by gunicorn.conf.py).
- A new gunicorn starts from zero: stale files are cleared.
- The access log masks calendar tokens.

The server gets a database of its own (PostgreSQL next to the test database,
or an SQLite file), migrated by ``manage.py migrate``.
"""

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.stack import StackDatabase, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
TOKEN = "gunicorn-test-metrics-token"

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, folder: Path):
        self.folder = folder
        self.db = StackDatabase(folder)
        self.port = free_port()
        self.access_log = folder / "access.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
        }
        self.env.update(
            DATABASE_URL=self.db.url,
            ONCALL_VAR_DIR=str(folder / "var"),
            METRICS_TOKEN=TOKEN,
            DJANGO_SETTINGS_MODULE="oncall.settings",
        )
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "oncall.wsgi",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--access-logfile",
                str(self.access_log),
                "--error-logfile",
                str(self.folder / "error.log"),
            ],
            cwd=ROOT,
            env=self.env,
        )
        assert wait_until(lambda: len(self.workers()) == 2 and self.answers(), 60), (
            self.folder / "error.log"
        ).read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def workers(self) -> list[int]:
        done = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in done.stdout.split()]

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def answers(self) -> bool:
        try:
            return self.get("/healthz")[0] in (200, 503)
        except OSError:
            return False

    def logins_counted(self) -> float:
        status, body = self.get("/metrics", token=TOKEN)
        assert status == 200
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == "oncall_http_requests_total" and sample.labels == {
                    "view": "login",
                    "method": "GET",
                    "status": "200",
                }:
                    return sample.value
        return 0


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path)
    try:
        server.manage("migrate", "--noinput", "-v", "0")
        server.start()
        yield server
    finally:
        server.stop()
        server.db.drop()


def test_it_sums_request_counts_over_both_workers_and_keeps_a_killed_ones(server):
    # Which worker accepts a connection is up to the kernel: send batches of
    # concurrent requests until both have answered some (and written counts).
    counters = server.folder / "var" / "prometheus"
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(list(counters.glob("counter_*.db"))) < 2 and sent < 2000:
            statuses = list(pool.map(lambda _: server.get("/accounts/login/")[0], range(40)))
            assert statuses == [200] * 40
            sent += 40
    assert len(list(counters.glob("counter_*.db"))) == 2, "both workers answered"

    # Whichever worker answers the scrape, it reports both workers' requests.
    assert [server.logins_counted() for _ in range(6)] == [sent] * 6

    killed = server.workers()[0]
    os.kill(killed, signal.SIGKILL)
    assert wait_until(lambda: killed not in server.workers() and len(server.workers()) == 2, 30)
    assert wait_until(server.answers, 30)
    assert [server.logins_counted() for _ in range(4)] == [sent] * 4

    # A new gunicorn starts from zero: the files of the last run are cleared.
    server.stop()
    server.start()
    assert server.logins_counted() == 0


def test_it_masks_calendar_tokens_in_the_access_log(server):
    token = server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "user = get_user_model().objects.create_user('feeder', 'feeder@example.com')\n"
        "print(user.profile.calendar_token)",
    ).split()[-1]
    assert server.get(f"/shifts/feed/{token}.ics")[0] == 200
    assert server.get(f"/shifts/feed/{token}/payments.ics")[0] == 404
    assert server.get(f"/shifts/feed/{token}.ics?x=1")[0] == 200
    server.stop()  # flushes the log

    log = server.access_log.read_text()
    assert token not in log
    assert log.count("GET /shifts/feed/<token>.ics") == 2
    assert "GET /shifts/feed/<token>/payments.ics" in log
