"""The app as deployed, for benchmarks: the Procfile's processes on a database of their own.

``Stack`` runs web (gunicorn), worker and beat exactly as the Procfile
writes them, with ``$PORT`` filled in and ``var/`` replaced by a folder of
the benchmark's own, on either configuration:

- ``deployed``: a PostgreSQL database (created here, dropped at the end) and a
  redis-server of its own on a free port (the broker and the cache);
- ``embedded``: the default of a laptop, an SQLite file and kombu's
  filesystem broker.

Ports, bounded waits and the database come from tests/stack.py.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from _runbooks_common import POSTGRES_URL, postgres_available

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import StackDatabase, app_env, free_port, manage, wait_until  # noqa: E402

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SECRET_KEY = "bench-only-not-secret"


def machine() -> str:
    """Load average and core count, printed beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}, {os.cpu_count()} cores"


def verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process ``root`` and its descendants,
    from /proc (0 where there is none)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent, used = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        # utime, stime, and those of its children already reaped
        used[pid] = sum(int(value) for value in fields[11:15])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(used.get(pid, 0) for pid in tree) / ticks


def procfile() -> dict[str, list[str]]:
    """The Procfile's commands by process name, split as a shell would."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and command.strip():
            commands[name.strip()] = shlex.split(command)
    return commands


def procfile_command(name: str, *, port: int, var: Path) -> list[str]:
    """The Procfile's command for ``name``, with ``$PORT`` filled in and var/ moved to ``var``."""
    command = [part.replace("$PORT", str(port)) for part in procfile()[name]]
    return [str(var / part[4:]) if part.startswith("var/") else part for part in command]


def responds(url: str) -> bool:
    """Any HTTP answer at all from ``url``: the server is up, whatever it says."""
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def healthy_but_beat(url: str) -> bool:
    """/healthz at ``url`` finds the database and the broker well (beat may be young)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            body = response.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    except OSError:
        return False
    try:
        checks = json.loads(body)["checks"]
    except (ValueError, KeyError):
        return False
    return checks["database"]["ok"] and checks["broker"]["ok"]


def unavailable(configuration: str) -> str:
    """ "" when ``configuration`` can run here, otherwise why not."""
    if configuration != "deployed":
        return ""
    if not os.path.exists(REDIS_SERVER):
        return "redis-server is not installed"
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        return ""
    return postgres_available()


class Stack:
    """One configuration's database, redis-server and processes; stopped by ``close``."""

    def __init__(self, configuration: str, label: str, **extra_env: str):
        self.configuration = configuration
        self.folder = Path(tempfile.mkdtemp(prefix=f"oncall-bench-{label}-"))
        self.processes: list[subprocess.Popen] = []
        self.named: dict[str, subprocess.Popen] = {}
        saved = os.environ.get("DATABASE_URL")
        if configuration == "deployed":
            postgres = (saved or "").startswith(("postgres://", "postgresql://"))
            os.environ["DATABASE_URL"] = saved if postgres else POSTGRES_URL
        else:
            os.environ.pop("DATABASE_URL", None)
        try:
            self.db = StackDatabase(self.folder, label=label)
        finally:
            if saved is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = saved
        self.env = app_env(
            self.db,
            self.folder,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            LOG_LEVEL="WARNING",
            DEBUG="false",
            SECRET_KEY=SECRET_KEY,
            BEHIND_TLS_PROXY="true",
            **extra_env,
        )
        self.env.pop("REDIS_URL", None)
        if configuration == "embedded":
            # The laptop's default to the letter: no DATABASE_URL, the file under var/.
            self.env.pop("DATABASE_URL")
            self.db.path = self.folder / "var" / "oncall.sqlite3"
        if configuration == "deployed":
            redis_port = free_port()
            self.start(
                [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"],
                "redis",
            )  # fmt: skip
            self.env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"

    @property
    def label(self) -> str:
        if self.configuration == "deployed":
            return "PostgreSQL + Redis"
        return "SQLite + filesystem broker"

    def manage(self, *args: str, code: str | None = None, timeout: float = 600) -> str:
        return manage(self.env, *args, *(["-c", code] if code else []), timeout=timeout)

    def start(self, command: list[str], name: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        self.named[name] = process
        return process

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the stack, with its children."""
        return {name: cpu_seconds(process.pid) for name, process in self.named.items()}

    def start_procfile(self, port: int) -> str:
        """web, worker and beat as the Procfile runs them; the site's URL once it answers."""
        self.env["PORT"] = str(port)
        for name in procfile():
            self.start(procfile_command(name, port=port, var=self.folder / "var"), name)
        url = f"http://127.0.0.1:{port}"
        # /healthz wants beat's first heartbeat, a minute away: ready here means
        # the database and the broker answer the web, and the worker says ready.
        if not wait_until(lambda: healthy_but_beat(f"{url}/healthz"), 60, interval=0.5):
            raise RuntimeError(self.log("web")[-3000:])
        if not wait_until(lambda: " ready." in self.log("worker"), 60, interval=0.5):
            raise RuntimeError(self.log("worker")[-3000:])
        return url

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        self.db.drop()
        shutil.rmtree(self.folder, ignore_errors=True)
