"""Runbook page throughput under gunicorn (2 workers), measured with wrk, against two baselines.

When an alert fires the whole war room opens the same runbook at once. This
measures the signed-in runbook page (payments-db/disk-full from the sample
runbooks) against the same HTML served as a static file by WhiteNoise in the
same gunicorn (the floor), and against a trivial signed-in page that renders
only the site's shell (base template, navigation, session, user, middleware),
so the figures show how much is the shell and how much the runbook.

Each configuration (SQLite; PostgreSQL, with Redis when REDIS_URL is set) runs
on a throw-away database with DEBUG off and the production gunicorn settings
(gunicorn.conf.py), 2 sync workers. Load: ``wrk -t2 -c8 -d8s`` on loopback
with the cookies a signed-in browser sends (session and CSRF), three rounds alternating page, static copy
and shell so that noise from a shared machine falls on all three alike.
Ratios are per round, then the median of the rounds.

Targets: page/static >= 0.25x on both databases (aim 0.5x); page p99 <= 100 ms
at 8 connections; page HTML <= 60 KB.

Needs wrk (Debian/Ubuntu: ``apt-get install wrk``; macOS: ``brew install wrk``).
``BENCH_SECONDS`` and ``BENCH_ROUNDS`` shorten a run while working on the page;
``BENCH_DATABASES=sqlite`` (or ``postgresql``) runs one configuration.
"""

import gzip
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
SLUG = "payments-db/disk-full"
CONNECTIONS = 8
THREADS = 2
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP_SECONDS = 2
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")

TARGET_RATIO = 0.25
AIM_RATIO = 0.5
TARGET_P99_MS = 100.0
TARGET_HTML_KB = 60

PAGES = {
    "runbook page": f"/runbooks/{SLUG}/",
    "static copy": "/static/bench/page.html",
    "signed-in shell": "/bench/shell/",
}


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
    response = client.get(PAGES["runbook page"], secure=True)
    assert response.status_code == 200, response.status_code
    # WhiteNoise serves every file under STATIC_ROOT that is there when it starts.
    target = Path(settings.STATIC_ROOT) / "bench" / "page.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(response.content)
    # The cookies a browser sends after its first visit: the session, and the
    # CSRF cookie the page's forms set (without it every request would make a
    # new CSRF secret, which no browser does).
    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    print("; ".join(f"{name}={client.cookies[name].value}" for name in names))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


HEADERS = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


def check(port: int, path: str, cookie: str) -> bytes:
    """One request by hand: wrk counts a redirect to the sign-in page as a success."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={**HEADERS, "Cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}, expected 200")
    return body


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def wrk(port: int, path: str, cookie: str, seconds: int) -> dict:
    """req/s, p50 and p99 (ms) and failed responses of one wrk run."""
    command = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
        "-H", f"Cookie: {cookie}",
        *[arg for name, value in HEADERS.items() for arg in ("-H", f"{name}: {value}")],
        f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "failed": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def postgres_database() -> tuple[str, str, str]:
    """A fresh database on the PostgreSQL server: (its URL, admin URL, name)."""
    import psycopg

    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        server = POSTGRES_URL
    parts = urlsplit(server)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = f"oncall_bench_page_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), admin_url, name


def drop_postgres(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_configuration(engine: str) -> dict | None:
    """Serve the app on ``engine`` and measure; None when PostgreSQL is not reachable."""
    workdir = tempfile.mkdtemp(prefix="oncall-bench-page-")
    env = {
        **os.environ,
        "ONCALL_VAR_DIR": workdir,
        "DJANGO_SETTINGS_MODULE": "oncall.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-secret-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "BEHIND_TLS_PROXY": "true",
        "LOG_LEVEL": "WARNING",
    }
    # gunicorn.conf.py puts the workers' metrics files under ONCALL_VAR_DIR.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    dropper = None
    if engine == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
        env.pop("REDIS_URL", None)
        label = "SQLite, no Redis (cache in each worker)"
    else:
        try:
            env["DATABASE_URL"], admin_url, name = postgres_database()
        except Exception as e:  # noqa: BLE001 - any failure to reach the server skips it
            print(f"PostgreSQL: skipped, cannot create a database ({e})")
            shutil.rmtree(workdir, ignore_errors=True)
            return None
        dropper = (admin_url, name)
        label = "PostgreSQL, " + ("Redis cache" if env.get("REDIS_URL") else "no Redis")
    try:
        prepared = subprocess.run(
            [PYTHON, __file__, "--prepare"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if prepared.returncode:
            raise SystemExit(f"preparing the {engine} database failed:\n{prepared.stderr}")
        cookie = prepared.stdout.strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(
            [GUNICORN, "bench._page_wsgi", "-w", "2", "-b", f"127.0.0.1:{port}",
             "--log-level", "warning"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            wait_for(port)
            html = check(port, PAGES["runbook page"], cookie)
            for path in PAGES.values():
                check(port, path, cookie)
                wrk(port, path, cookie, WARMUP_SECONDS)
            rounds = []
            for _ in range(ROUNDS):
                rounds.append(
                    {label_: wrk(port, path, cookie, SECONDS) for label_, path in PAGES.items()}
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        if dropper:
            drop_postgres(*dropper)
        shutil.rmtree(workdir, ignore_errors=True)
    return {"label": label, "html": html, "rounds": rounds}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(result: dict) -> list[bool]:
    html, rounds = result["html"], result["rounds"]
    print(f"\n-- {result['label']}")
    size = len(html) / 1024
    print(
        f"  page HTML {size:.1f} KB ({len(gzip.compress(html)) / 1024:.1f} KB gzipped)"
        f"   target <= {TARGET_HTML_KB} KB: {verdict(size <= TARGET_HTML_KB)}"
    )
    for number, measured in enumerate(rounds, 1):
        print(f"  round {number}")
        for name, m in measured.items():
            failed = f"   FAILED {m['failed']}" if m["failed"] else ""
            errors = f"   socket errors: {m['socket_errors']}" if m["socket_errors"] else ""
            print(
                f"    {name:<16} {m['rate']:8.0f} req/s   p50 {m['p50']:6.1f} ms"
                f"   p99 {m['p99']:6.1f} ms{failed}{errors}"
            )

    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    def ratio(a: str, b: str) -> float:
        return statistics.median(r[a]["rate"] / r[b]["rate"] for r in rounds)

    page_static = ratio("runbook page", "static copy")
    shell_static = ratio("signed-in shell", "static copy")
    page_shell = ratio("runbook page", "signed-in shell")
    p99 = median("runbook page", "p99")
    failed = sum(r[name]["failed"] for r in rounds for name in r)
    print(f"  median of {len(rounds)} rounds")
    for name in PAGES:
        print(
            f"    {name:<16} {median(name, 'rate'):8.0f} req/s   "
            f"p50 {median(name, 'p50'):6.1f} ms   p99 {median(name, 'p99'):6.1f} ms"
        )
    met = [
        page_static >= TARGET_RATIO,
        p99 <= TARGET_P99_MS,
        size <= TARGET_HTML_KB,
        failed == 0,
    ]
    print(
        f"  page/static  {page_static:5.2f}x   target >= {TARGET_RATIO}x (aim {AIM_RATIO}x): "
        f"{verdict(met[0])}{' (aim met)' if page_static >= AIM_RATIO else ''}"
    )
    print(f"  page p99     {p99:5.1f} ms  target <= {TARGET_P99_MS:.0f} ms: {verdict(met[1])}")
    print(f"  shell/static {shell_static:5.2f}x   (the signed-in floor: what every page pays)")
    print(f"  page/shell   {page_shell:5.2f}x   (what the runbook adds to the shell)")
    print(f"  failed responses {failed}   target 0: {verdict(met[3])}")
    return met


def main() -> None:
    print(__doc__.strip().splitlines()[0], flush=True)
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)"
        )
    engines = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    results = [r for engine in engines if (r := run_configuration(engine.strip()))]
    cores = os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"gunicorn 2 sync workers; wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s, "
        f"{ROUNDS} rounds alternating; {cores} cores, load average {load}"
    )
    met = [ok for result in results for ok in report(result)]
    print(
        f"\nrunbook page: {sum(met)} of {len(met)} targets met "
        f"({cores} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--prepare"]:
        prepare()
    else:
        main()
