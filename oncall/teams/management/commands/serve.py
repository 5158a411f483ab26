"""Run the Procfile's processes side by side for `make run`, and stop them calmly.

Each process runs in a session of its own, so Ctrl-C in the terminal reaches
only this command (not gunicorn's workers or Celery's pool, which log their
own alarm when interrupted directly). On Ctrl-C or SIGTERM:

1. stop passing on the processes' output (their shutdown chatter is noise);
2. send SIGTERM to each process and wait up to ``--grace`` seconds;
3. print one line per process: stopped, or killed when it would not stop;
4. exit 0, since stopping is what was asked.

When a process ends by itself the others are stopped the same way and the
command exits 1, naming the process and its exit status.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oncall.teams.health import STARTED_AT_ENV

PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>.+)$")


def read_procfile(path):
    processes = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PROCFILE_LINE.match(line)
        if not match:
            raise CommandError(f"{path}, line {number}: expected 'name: command', got {line!r}")
        processes.append((match["name"], match["command"]))
    if not processes:
        raise CommandError(f"{path} names no process")
    return processes


class Process:
    def __init__(self, name, command, env):
        self.name = name
        self.label = f"{name}.1"
        # exec: the shell hands its pid to the program, so SIGTERM reaches it.
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def terminate(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGTERM)

    def kill_group(self):
        """Whatever is left of the process's session (a worker it started, say)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Command(BaseCommand):
    help = "Run the web server, Celery worker and beat from the Procfile; Ctrl-C stops them."

    def add_arguments(self, parser):
        parser.add_argument("--procfile", default=str(Path(settings.BASE_DIR) / "Procfile"))
        parser.add_argument("--grace", type=float, default=20.0, help="seconds to wait on stop")

    def handle(self, *args, procfile, grace, **options):
        self.out_lock = threading.Lock()
        self.quiet = threading.Event()
        wanted_stop = threading.Event()
        entries = read_procfile(procfile)
        width = max(len(name) for name, _ in entries) + 2

        def on_signal(signum, frame):
            if wanted_stop.is_set():  # a second Ctrl-C: stop waiting
                raise KeyboardInterrupt
            wanted_stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)

        # /healthz says "starting" rather than 503 until beat's first heartbeat (see health).
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{STARTED_AT_ENV: str(time.time())})
        processes = []
        for name, command in entries:
            process = Process(name, command, env)
            processes.append(process)
            threading.Thread(target=self._relay, args=(process, width), daemon=True).start()
            self._say("system", width, f"{process.label} started (pid={process.popen.pid})")

        ended_alone = None
        while not wanted_stop.wait(0.2):
            ended_alone = next((p for p in processes if p.popen.poll() is not None), None)
            if ended_alone:
                break

        self.quiet.set()
        if ended_alone:
            status = ended_alone.popen.returncode
            self._say(
                "system",
                width,
                f"{ended_alone.label} exited with status {status}; stopping "
                + ", ".join(p.label for p in processes if p is not ended_alone),
                force=True,
            )
        self._stop(processes, width, grace)
        if ended_alone:
            raise CommandError(f"{ended_alone.label} ended by itself (status {status})")

    def _stop(self, processes, width, grace):
        for process in processes:
            if process.popen.poll() is None:
                process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            try:
                process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
                outcome = "stopped"
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                outcome = f"did not stop within {grace:g} s: killed"
            process.kill_group()
            process.popen.wait()
            self._say("system", width, f"{process.label} {outcome}", force=True)

    def _relay(self, process, width):
        for raw in process.popen.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._say(process.label, width, line)

    def _say(self, label, width, text, force=False):
        if self.quiet.is_set() and not force:
            return
        with self.out_lock:
            stamp = time.strftime("%H:%M:%S")
            sys.stdout.write(f"{stamp} {label:<{width + 2}}| {text}\n")
            sys.stdout.flush()
