"""Runbook page throughput under gunicorn (2 workers), measured with wrk, against two baselines.

When an alert fires the whole war room opens the same runbook at once. This
measures the signed-in runbook page (payments-db/disk-full from the sample
runbooks) against the same HTML served as a static file by WhiteNoise in the
same gunicorn (the floor), and against a trivial signed-in page that renders
only the site's shell (base template, navigation, session, user, middleware),
so the figures show how much is the shell and how much the runbook.

The page is measured twice: with the cookies a signed-in browser sends after
its first visit (session and CSRF), and with the session cookie alone, as on
a first visit or from a client that drops cookies (each such request makes a
new CSRF secret). With Redis, the keys each run added to it are counted too:
what a client can make the server store.

Each configuration (SQLite; PostgreSQL, with Redis when REDIS_URL is set) runs
on a throw-away database with DEBUG off and the production gunicorn settings
(gunicorn.conf.py), 2 sync workers. Load: ``wrk -t2 -c8 -d8s`` on loopback,
three rounds alternating the pages (and the trees, page by page) so that
noise from a shared machine falls on all alike. Ratios are per round, then the median of the rounds.

``--baseline REF`` (a git revision, or a folder holding another checkout)
serves that code too, on a database of its own, and alternates its rounds
with this tree's: a before/after comparison on the same machine at the same
time. ``--engine sqlite|postgresql`` (repeatable) picks configurations; the
default is both. Keys the run added to Redis are removed at the end.

Targets: page/static >= 0.25x on both databases, with and without the CSRF
cookie (aim 0.5x); page p99 <= 100 ms at 8 connections; page HTML <= 60 KB.

Needs wrk (Debian/Ubuntu: ``apt-get install wrk``; macOS: ``brew install wrk``).
``BENCH_SECONDS`` and ``BENCH_ROUNDS`` shorten a run while working on the page.
"""

import gzip
import http.client
import io
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
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

# label: (path, cookies sent: "browser" = session and CSRF, "session" = session alone)
PAGES = {
    "runbook page": (f"/runbooks/{SLUG}/", "browser"),
    "page, no CSRF cookie": (f"/runbooks/{SLUG}/", "session"),
    "static copy": ("/static/bench/page.html", "browser"),
    "signed-in shell": ("/bench/shell/", "browser"),
}
RUNBOOK_PAGES = ("runbook page", "page, no CSRF cookie")
STATIC = "static copy"


def prepare() -> None:
    """Child: database, sample runbooks, a signed-in session and the static copy.

    Runs with the code of the tree being measured first on the path
    (BENCH_SOURCE): this tree's, or the baseline's.
    """
    sys.path.insert(0, os.environ.get("BENCH_SOURCE", str(ROOT)))
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
    response = client.get(PAGES["runbook page"][0], secure=True)
    assert response.status_code == 200, response.status_code
    # WhiteNoise serves every file under STATIC_ROOT that is there when it starts.
    target = Path(settings.STATIC_ROOT) / "bench" / "page.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(response.content)
    # The cookies a browser sends after its first visit: the session, and the
    # CSRF cookie the page's forms set; the first line is the session alone.
    session = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    print(session)
    print(
        f"{session}; {settings.CSRF_COOKIE_NAME}={client.cookies[settings.CSRF_COOKIE_NAME].value}"
    )


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


class RedisKeys:
    """The keys the servers add to the Redis of REDIS_URL: counted per run, removed at the end."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.before = set(self.client.scan_iter(count=1000))

    def count(self) -> int:
        return self.client.dbsize()

    def remove_added(self) -> int:
        added = [key for key in self.client.scan_iter(count=1000) if key not in self.before]
        for start in range(0, len(added), 1000):
            self.client.delete(*added[start : start + 1000])
        return len(added)


def postgres_database(tag: str) -> tuple[str, str, str]:
    """A fresh database on the PostgreSQL server: (its URL, admin URL, name)."""
    import psycopg

    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        server = POSTGRES_URL
    parts = urlsplit(server)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = f"oncall_bench_page_{os.getpid()}_{tag}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), admin_url, name


def drop_postgres(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Served:
    """One tree's code served by gunicorn on a database of its own."""

    def __init__(self, name: str, source: Path, engine: str, tag: str):
        self.name, self.source, self.engine = name, source, engine
        self.workdir = tempfile.mkdtemp(prefix="oncall-bench-page-")
        self.dropper = None
        self.server = None
        self.env = {
            **os.environ,
            "ONCALL_VAR_DIR": self.workdir,
            "DJANGO_SETTINGS_MODULE": "oncall.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-secret-" + "x" * 40,
            "SECURE_SSL_REDIRECT": "false",
            "BEHIND_TLS_PROXY": "true",
            "LOG_LEVEL": "WARNING",
            "BENCH_SOURCE": str(source),
            "PYTHONPATH": str(source),
        }
        # gunicorn.conf.py puts the workers' metrics files under ONCALL_VAR_DIR.
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if engine == "sqlite":
            self.env["DATABASE_URL"] = f"sqlite:///{self.workdir}/bench.sqlite3"
            self.env.pop("REDIS_URL", None)
        else:
            self.env["DATABASE_URL"], *self.dropper = postgres_database(tag)

    def start(self) -> None:
        prepared = subprocess.run(
            [PYTHON, __file__, "--prepare"],
            env=self.env, cwd=self.source, capture_output=True, text=True,
        )  # fmt: skip
        if prepared.returncode:
            raise SystemExit(f"preparing {self.name} on {self.engine} failed:\n{prepared.stderr}")
        session, browser = prepared.stdout.strip().splitlines()[-2:]
        self.cookies = {"session": session, "browser": browser}
        self.port = free_port()
        self.server = subprocess.Popen(
            [GUNICORN, "bench._page_wsgi", "-w", "2", "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning"],
            env=self.env, cwd=self.source,
        )  # fmt: skip
        wait_for(self.port)
        self.html = check(self.port, PAGES["runbook page"][0], self.cookies["browser"])
        for path, cookie in PAGES.values():
            check(self.port, path, self.cookies[cookie])
            wrk(self.port, path, self.cookies[cookie], WARMUP_SECONDS)

    def measure(self, label: str, redis_keys: "RedisKeys | None") -> dict:
        path, cookie = PAGES[label]
        keys = redis_keys.count() if redis_keys else 0
        measured = wrk(self.port, path, self.cookies[cookie], SECONDS)
        if redis_keys:
            measured["redis_keys"] = redis_keys.count() - keys
        return measured

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=10)
        if self.dropper:
            drop_postgres(*self.dropper)
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_configuration(engine: str, trees: dict[str, Path]) -> dict | None:
    """Serve each tree on ``engine`` and measure, rounds alternating; None when
    PostgreSQL is not reachable."""
    redis_url = os.environ.get("REDIS_URL", "") if engine == "postgresql" else ""
    label = (
        "SQLite, no Redis (cache in each worker)"
        if engine == "sqlite"
        else "PostgreSQL, " + ("Redis cache" if redis_url else "no Redis")
    )
    served: list[Served] = []
    redis_keys = RedisKeys(redis_url) if redis_url else None
    try:
        for number, (name, source) in enumerate(trees.items()):
            try:
                served.append(Served(name, source, engine, str(number)))
            except Exception as e:  # noqa: BLE001 - any failure to reach the server skips it
                print(f"PostgreSQL: skipped, cannot create a database ({e})")
                return None
        for one in served:
            one.start()
        rounds = {one.name: [] for one in served}
        for number in range(ROUNDS):
            for one in served:
                rounds[one.name].append({})
            # Each page of the trees back to back, their order swapped every
            # round, so that a change in the machine's load falls on both alike.
            order = served if number % 2 == 0 else served[::-1]
            for page in PAGES:
                for one in order:
                    rounds[one.name][-1][page] = one.measure(page, redis_keys)
        return {
            "label": label,
            "trees": {one.name: {"html": one.html, "rounds": rounds[one.name]} for one in served},
        }
    finally:
        for one in served:
            one.stop()
        if redis_keys:
            removed = redis_keys.remove_added()
            print(f"[{engine}] removed the {removed} keys the run added to Redis")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def ratio(rounds: list[dict], a: str, b: str) -> float:
    """The median over rounds of a's rate over b's, measured in the same round."""
    return statistics.median(r[a]["rate"] / r[b]["rate"] for r in rounds)


def report(label: str, name: str, html: bytes, rounds: list[dict]) -> list[bool]:
    print(f"\n-- {label}: {name}")
    size = len(html) / 1024
    print(
        f"  page HTML {size:.1f} KB ({len(gzip.compress(html)) / 1024:.1f} KB gzipped)"
        f"   target <= {TARGET_HTML_KB} KB: {verdict(size <= TARGET_HTML_KB)}"
    )
    for number, measured in enumerate(rounds, 1):
        print(f"  round {number}")
        for page, m in measured.items():
            failed = f"   FAILED {m['failed']}" if m["failed"] else ""
            errors = f"   socket errors: {m['socket_errors']}" if m["socket_errors"] else ""
            # Keys of others expire meanwhile: a run that adds none may count a few less.
            keys = f"   {m['redis_keys']:+d} Redis keys" if "redis_keys" in m else ""
            print(
                f"    {page:<20} {m['rate']:8.0f} req/s   p50 {m['p50']:6.1f} ms"
                f"   p99 {m['p99']:6.1f} ms{keys}{failed}{errors}"
            )

    def median(page: str, key: str) -> float:
        return statistics.median(r[page][key] for r in rounds)

    print(f"  median of {len(rounds)} rounds")
    for page in PAGES:
        keys = (
            f"   {median(page, 'redis_keys'):+.0f} Redis keys per run"
            if "redis_keys" in rounds[0][page]
            else ""
        )
        print(
            f"    {page:<20} {median(page, 'rate'):8.0f} req/s   "
            f"p50 {median(page, 'p50'):6.1f} ms   p99 {median(page, 'p99'):6.1f} ms{keys}"
        )
    met = []
    for page in RUNBOOK_PAGES:
        page_static = ratio(rounds, page, STATIC)
        met.append(page_static >= TARGET_RATIO)
        print(
            f"  {page + '/static':<28} {page_static:5.2f}x   target >= {TARGET_RATIO}x"
            f" (aim {AIM_RATIO}x): {verdict(met[-1])}"
            f"{' (aim met)' if page_static >= AIM_RATIO else ''}"
        )
    p99 = median("runbook page", "p99")
    failed = sum(r[page]["failed"] for r in rounds for page in r)
    met += [p99 <= TARGET_P99_MS, size <= TARGET_HTML_KB, failed == 0]
    print(f"  page p99     {p99:5.1f} ms  target <= {TARGET_P99_MS:.0f} ms: {verdict(met[-3])}")
    print(
        f"  shell/static {ratio(rounds, 'signed-in shell', STATIC):5.2f}x"
        "   (the signed-in floor: what every page pays)"
    )
    print(
        f"  page/shell   {ratio(rounds, 'runbook page', 'signed-in shell'):5.2f}x"
        "   (what the runbook adds to the shell)"
    )
    print(f"  failed responses {failed}   target 0: {verdict(met[-1])}")
    return met


def compare(result: dict) -> None:
    """Each runbook figure as a ratio to the static copy, tree beside tree."""
    names = list(result["trees"])
    print(f"\n-- {result['label']}: ratio to the static copy (median of rounds)")
    print("    " + " " * 20 + "".join(f"{name:>22}" for name in names))
    for page in (*RUNBOOK_PAGES, "signed-in shell"):
        figures = [ratio(result["trees"][name]["rounds"], page, STATIC) for name in names]
        print(f"    {page:<20}" + "".join(f"{figure:21.2f}x" for figure in figures))


def source_of(ref: str, into: Path) -> Path:
    """The tree to compare with: a folder as it is, or a git revision exported into ``into``."""
    if Path(ref).is_dir():
        return Path(ref).resolve()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def arguments(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--baseline REF`` and ``--engine sqlite|postgresql`` (repeatable)."""
    baseline, engines = None, []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--baseline" and args:
            baseline = args.pop(0)
        elif arg == "--engine" and args and args[0] in ("sqlite", "postgresql"):
            engines.append(args.pop(0))
        else:
            raise SystemExit(
                f"unknown argument {arg!r} (use --baseline REF|FOLDER, --engine sqlite|postgresql)"
            )
    return baseline, engines or ["sqlite", "postgresql"]


def main() -> None:
    print(__doc__.strip().splitlines()[0], flush=True)
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)"
        )
    baseline, engines = arguments(sys.argv[1:])
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="oncall-bench-baseline-") as folder:
        trees = {"this tree": ROOT}
        if baseline:
            trees[f"baseline {baseline[:12]}"] = source_of(baseline, Path(folder))
        results = [r for engine in engines if (r := run_configuration(engine, trees))]
    cores = os.cpu_count()
    print(
        f"gunicorn 2 sync workers per tree; wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s, "
        f"{ROUNDS} rounds alternating; {cores} cores, load average before {load_before}"
    )
    met = []
    for result in results:
        for name, tree in result["trees"].items():
            ok = report(result["label"], name, tree["html"], tree["rounds"])
            if name == "this tree":
                met += ok
    if baseline:
        for result in results:
            compare(result)
    print(
        f"\nrunbook page: {sum(met)} of {len(met)} targets met "
        f"({cores} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--prepare"]:
        prepare()
    else:
        main()
