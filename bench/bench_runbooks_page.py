"""Runbook page throughput under gunicorn (2 workers) against the same HTML as a static file.

Target: the runbook page serves at >= 0.5x the static file's throughput, and
its HTML is <= 60 KB for a typical runbook.

The app runs with DEBUG off on a throw-away SQLite database with the sample
runbooks; the static copy is served by WhiteNoise in the same gunicorn. A
small threaded load generator on loopback (new connection per request, as
gunicorn's sync workers close each one) runs on the same machine.
"""

import gzip
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
SLUG = "payments-db/disk-full"
THREADS = 8
SECONDS = 6
WARMUP_SECONDS = 1


def prepare() -> None:
    """Child: database, sample runbooks, a signed-in session and the static copy."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from io import StringIO

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("seed_demo", stdout=StringIO())
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="trainee"))
    response = client.get(f"/runbooks/{SLUG}/", secure=True)
    assert response.status_code == 200, response.status_code
    target = Path(settings.STATIC_ROOT) / "bench" / "page.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(response.content)
    print(client.cookies[settings.SESSION_COOKIE_NAME].value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(port: int, path: str, cookie: str, seconds: float) -> tuple[float, list[float], int]:
    """Requests per second, latencies and errors for ``seconds`` of THREADS clients."""
    latencies: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def client() -> None:
        mine = []
        failed = 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request(
                    "GET",
                    path,
                    headers={"Cookie": f"sessionid={cookie}", "X-Forwarded-Proto": "https"},
                )
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except OSError:
                failed += 1
            finally:
                conn.close()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors[0]


def wait_for(port: int) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    print(__doc__.strip().splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="oncall-bench-page-") as workdir:
        env = {
            **os.environ,
            "ONCALL_VAR_DIR": workdir,
            "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
            "DJANGO_SETTINGS_MODULE": "oncall.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-secret",
            "SECURE_SSL_REDIRECT": "false",
            "BEHIND_TLS_PROXY": "true",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        cookie = subprocess.run(
            [PYTHON, __file__, "--prepare"], env=env, cwd=ROOT, check=True,
            capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        html = (Path(workdir) / "static" / "bench" / "page.html").read_bytes()
        port = free_port()
        server = subprocess.Popen(
            [GUNICORN, "oncall.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            wait_for(port)
            results = {}
            for label, path in (
                ("runbook page", f"/runbooks/{SLUG}/"),
                ("static copy", "/static/bench/page.html"),
            ):
                load(port, path, cookie, WARMUP_SECONDS)
                results[label] = load(port, path, cookie, SECONDS)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(
        f"page /runbooks/{SLUG}/: {len(html) / 1024:.1f} KB HTML "
        f"({len(gzip.compress(html)) / 1024:.1f} KB gzipped), target <= 60 KB"
    )
    print(
        f"gunicorn 2 sync workers, {THREADS} client threads, {SECONDS} s each, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for label, (rate, latencies, errors) in results.items():
        ms = sorted(x * 1000 for x in latencies)
        print(
            f"  {label:<13} {rate:8.0f} req/s   p50 {statistics.median(ms):6.1f} ms   "
            f"p95 {ms[int(len(ms) * 0.95)]:6.1f} ms   errors {errors}"
        )
    ratio = results["runbook page"][0] / results["static copy"][0]
    print(f"  ratio page/static: {ratio:.2f}x   target >= 0.5x")


if __name__ == "__main__":
    if sys.argv[1:] == ["--prepare"]:
        prepare()
    else:
        main()
