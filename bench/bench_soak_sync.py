"""Soak: sync 1,000 runbook files, 5% of them hostile, while 20 people use the site.

Pass: 0 errors for the clients, every hostile file named in every sync, every
good file imported at its current content.

Each engine (SQLite, then PostgreSQL when it answers) runs in a child process
with a throw-away database and its own gunicorn (2 sync workers, as in the
Procfile, DEBUG off). 20 client threads, each a trainee with a session of its
own, loop over: read a runbook page, tick or untick an item of their
onboarding (a write). Figures are side by side with baselines on the same
machine, in the same run:

- clients: 15 s with no sync running (baseline) vs the 60 s soak;
- sync: the 950 good files alone with no clients (baseline) vs the first
  sync of the 1,000 files (the 950 plus 50 hostile) during the soak.

Kept out of ``make test`` (it takes ~3 minutes per engine); run it with
``python bench/bench_soak_sync.py [sqlite] [postgresql]`` (default both) or
``make bench``.
"""

import hashlib
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from _runbooks_common import ROOT, percentile, run_children, runbook_markdown, setup_django

sys.path.insert(0, str(ROOT))
from tests.slow_markdown import EXTENSION as SLOW_EXTENSION  # noqa: E402
from tests.slow_markdown import marker  # noqa: E402

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
CLIENTS = 20
SOAK_SECONDS = 60
BASELINE_SECONDS = 15
FILES = 1000
HOSTILE_EACH = 5  # files of each hostile kind: 10 kinds, 50 files, 5%
CHANGED_PER_RESYNC = 50
CSRF = "b" * 32
SECRET_KEY = "bench-only-not-secret"

# name -> (relative path, content, reason); each is named with this reason by
# every sync. A reason of None: rendered or refused, whichever the installed
# python-markdown does, but never another file's failure.
HOSTILE_KINDS = {
    # Slow by the benchmark's own extension (tests/slow_markdown.py), loaded
    # through RUNBOOK_MARKDOWN_EXTENSIONS: slow on any python-markdown.
    "slow render": ("slow{n}.md", "# Slow\n\n" + marker(30) + "\n", "took longer than 2 s"),
    "600 nested lists": (
        "nested{n}.md",
        "# Nested\n\n" + "".join(" " * (4 * i) + "- item\n" for i in range(600)),
        "nesting deeper than 50 levels",
    ),
    "100,000 nested divs": ("divs{n}.md", "# Divs\n\n" + "<div>" * 100_000 + "x", None),
    "review_every out of range": (
        "review{n}.md",
        "---\nreview_every: 4000000\n---\n# Review\n",
        "review_every must be between 1 and 3650 days",
    ),
    "date past 2999": (
        "date{n}.md",
        "---\nlast_reviewed: 9999-12-31\n---\n# Date\n",
        "last_reviewed must be a date between",
    ),
    "integer over 64 bits": (
        "huge{n}.md",
        "---\ntags: [100000000000000000000]\n---\n# Huge\n",
        "tags: the number is too large",
    ),
    "reserved '-' segment": ("x{n}/-/diff.md", "# Diff\n", "runbook URLs reserve it"),
    "NUL character": ("nul{n}.md", "# Nul\n\na\x00b\n", "holds NUL characters"),
    "too many tags": (
        "tags{n}.md",
        "---\ntags: [" + ", ".join(f"t{i}" for i in range(60)) + "]\n---\n# Tags\n",
        "tags has more than 50 entries",
    ),
    "invalid YAML": ("yaml{n}.md", "---\ntitle: [unclosed\n---\n# Yaml\n", "not valid YAML"),
}


def write_folders(base: Path) -> tuple[Path, Path, dict[Path, str | None], list[Path]]:
    """Folder A: 950 good files and 50 hostile ones; folder B: 950 other good files."""
    rng = random.Random(7)
    base = base.resolve()
    soak, baseline = base / "soak", base / "baseline"
    hostile: dict[Path, str | None] = {}
    good: list[Path] = []
    for n in range(HOSTILE_EACH):
        for relative, content, reason in HOSTILE_KINDS.values():
            path = soak / "hostile" / relative.format(n=n)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            hostile[path] = reason
    for i in range(FILES - len(hostile)):
        for root, prefix in ((soak, "svc"), (baseline, "base")):
            path = root / f"{prefix}{i % 25:02}" / f"Alert{i:04}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(runbook_markdown(i, rng), encoding="utf-8")
            if root is soak:
                good.append(path)
    return soak, baseline, hostile, good


def build_people() -> list[dict]:
    """20 trainees with a 20-item onboarding each; a session cookie and an item apiece."""
    from django.contrib.auth import get_user_model

    from oncall.accounts.sessions import SessionStore
    from oncall.readiness.models import ChecklistTemplate, Kind, TemplateItem
    from oncall.readiness.progress import start_onboarding
    from oncall.teams.models import Membership, Team

    User = get_user_model()
    team = Team.objects.create(slug="soak", name="Soak", time_zone="UTC")
    lead = User.objects.create_user("soak-lead")
    Membership.objects.create(user=lead, team=team, role=Membership.Role.LEAD)
    template = ChecklistTemplate.objects.create(team=team, name="Soak")
    TemplateItem.objects.bulk_create(
        TemplateItem(template=template, section="S", title=f"Item {n}", kind=Kind.TASK, order=n)
        for n in range(20)
    )
    people = []
    for n in range(CLIENTS):
        user = User.objects.create_user(f"soak-trainee-{n}")
        Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
        onboarding = start_onboarding(engineer=user, team=team, template=template, started_by=lead)
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "oncall.accounts.backends.PasswordBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        items = list(onboarding.items.values_list("pk", flat=True))
        people.append({"cookie": session.session_key, "onboarding": onboarding.pk, "items": items})
    return people


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clients:
    """CLIENTS threads reading runbooks and ticking items until stopped."""

    def __init__(self, port: int, people: list[dict], slugs: list[str]) -> None:
        self.port = port
        self.people = people
        self.slugs = slugs  # runbooks to read; extended while the soak runs
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {"read": [], "tick": []}
        self.errors: list[str] = []

    def request(self, person: dict, method: str, path: str, body: str = "") -> int:
        headers = {
            "Cookie": f"sessionid={person['cookie']}; csrftoken={CSRF}",
            "X-Forwarded-Proto": "https",
            "Host": f"127.0.0.1:{self.port}",
        }
        if method == "POST":
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": CSRF,
                "Referer": f"https://127.0.0.1:{self.port}/",
                "Origin": f"https://127.0.0.1:{self.port}",
            }
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def run_one(self, person: dict, seed: int) -> None:
        rng = random.Random(seed)
        ticked: set[int] = set()
        while not self.stop.is_set():
            if rng.random() < 0.5:
                kind, method, body = "read", "GET", ""
                path = f"/runbooks/{rng.choice(self.slugs)}/"
                expected = {200}
            else:
                item = rng.choice(person["items"])
                action = "untick" if item in ticked else "tick"
                ticked ^= {item}
                kind, method, body = "tick", "POST", f"action={action}&note=soak"
                path = f"/onboardings/{person['onboarding']}/items/{item}/"
                expected = {302}
            started = time.perf_counter()
            try:
                status = self.request(person, method, path, body)
                error = "" if status in expected else f"{method} {path}: {status}"
            except OSError as e:
                error = f"{method} {path}: {e}"
            elapsed = time.perf_counter() - started
            with self.lock:
                self.latencies[kind].append(elapsed)
                if error:
                    self.errors.append(error)

    def __enter__(self) -> "Clients":
        self.threads = [
            threading.Thread(target=self.run_one, args=(person, n))
            for n, person in enumerate(self.people)
        ]
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.elapsed = time.perf_counter() - self.started

    def figures(self) -> dict[str, float]:
        result = {}
        for kind, values in self.latencies.items():
            result[f"{kind} p50 ms"] = statistics.median(values) * 1000
            result[f"{kind} p95 ms"] = percentile(values, 95) * 1000
            result[f"{kind} max ms"] = max(values) * 1000
            result[f"{kind} per s"] = len(values) / self.elapsed
        return result


def wait_for(port: int) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def check_sync(report, hostile: dict[Path, str | None], label: str) -> list[str]:
    """Problems with one sync's report: a hostile file not named, or a good one failing."""
    problems = []
    named = {}
    for error in report.errors:
        path, _sep, reason = error.partition(": ")
        named[Path(path)] = reason
    for path, reason in hostile.items():
        if reason is not None and reason not in named.get(path, ""):
            problems.append(f"{label}: {path} not named with {reason!r} (got {named.get(path)!r})")
    for path in set(named) - set(hostile):
        problems.append(f"{label}: good file failed: {path}: {named[path]}")
    return problems


def child(engine: str) -> None:
    os.environ["SECRET_KEY"] = SECRET_KEY  # sessions made here are read by gunicorn
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.RUNBOOK_MARKDOWN_EXTENSIONS = [SLOW_EXTENSION]
    # The renderer process imports the extension wherever the benchmark is run from.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )

    from oncall.runbooks.models import Runbook
    from oncall.runbooks.sync import slug_for, sync_folders

    call_command("collectstatic", interactive=False, verbosity=0)
    samples = sync_folders([settings.RUNBOOKS_DIR])
    assert samples.ok, samples.errors
    people = build_people()
    soak, baseline, hostile, good = write_folders(Path(os.environ["ONCALL_VAR_DIR"]) / "folders")
    connection.close()

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "SECURE_SSL_REDIRECT": "false",
        "BEHIND_TLS_PROXY": "true",
    }
    server = subprocess.Popen(
        [GUNICORN, "oncall.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    problems: list[str] = []
    try:
        wait_for(port)
        slugs = list(Runbook.objects.values_list("slug", flat=True))
        with Clients(port, people, slugs) as calm:
            time.sleep(BASELINE_SECONDS)
        started = time.perf_counter()
        base_report = sync_folders([baseline])
        base_sync = time.perf_counter() - started
        assert base_report.ok and base_report.created == len(good), base_report.summary()

        syncs: list[tuple[float, str]] = []
        with Clients(port, people, slugs) as soaked:
            deadline = time.perf_counter() + SOAK_SECONDS
            round_ = 0
            while time.perf_counter() < deadline or not syncs:
                if round_:
                    for path in random.Random(round_).sample(good, CHANGED_PER_RESYNC):
                        path.write_text(path.read_text() + f"\nRound {round_}.\n")
                started = time.perf_counter()
                report = sync_folders([soak])
                syncs.append((time.perf_counter() - started, report.summary()))
                problems += check_sync(report, hostile, f"sync {round_ + 1}")
                if round_ == 0:
                    soaked.slugs.extend(slug_for(p.relative_to(soak)) for p in good[:200])
                round_ += 1
            remaining = deadline - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
    finally:
        server.terminate()
        server.wait(timeout=30)

    stored = dict(
        Runbook.objects.filter(source_root=str(soak.resolve())).values_list(
            "slug", "current_revision__content_hash"
        )
    )
    for path in good:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if stored.get(slug_for(path.relative_to(soak))) != digest:
            problems.append(f"good file not imported at its current content: {path}")
    problems += [f"client: {error}" for error in soaked.errors + calm.errors]

    load = os.getloadavg()
    print(f"[{engine}] soak: {FILES} files ({len(hostile)} hostile, {len(HOSTILE_KINDS)} kinds),")
    print(f"[{engine}]   {CLIENTS} clients for {soaked.elapsed:.0f} s; load average {load[0]:.2f}")
    print(f"[{engine}]   sync of the 950 good files, no clients   {base_sync:6.2f} s   (baseline)")
    first, summary = syncs[0]
    print(
        f"[{engine}]   first sync of all 1,000, 20 clients     {first:6.2f} s   "
        f"x{first / base_sync:.2f}   {summary}"
    )
    for n, (seconds, summary) in enumerate(syncs[1:], start=2):
        print(
            f"[{engine}]   re-sync {n} ({CHANGED_PER_RESYNC} changed)              {seconds:6.2f} s   {summary}"
        )
    calm_figures, soak_figures = calm.figures(), soaked.figures()
    print(f"[{engine}]   {'clients':22} {'no sync':>10} {'soak':>10} {'ratio':>7}")
    for key, value in calm_figures.items():
        print(
            f"[{engine}]   {key:22} {value:10.1f} {soak_figures[key]:10.1f} "
            f"{soak_figures[key] / value:7.2f}"
        )
    requests = sum(len(v) for v in soaked.latencies.values())
    print(
        f"[{engine}]   client requests {requests}, errors {len(soaked.errors) + len(calm.errors)}"
    )
    print(
        f"[{engine}]   hostile files named in every sync: {not any('not named' in p for p in problems)}"
    )
    print(
        f"[{engine}]   good files imported: {len(good) - sum('good file' in p for p in problems)}/{len(good)}"
    )
    if problems:
        for problem in problems[:20]:
            print(f"[{engine}]   PROBLEM {problem}")
        raise SystemExit(f"[{engine}] soak failed: {len(problems)} problems")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        print(__doc__.strip().splitlines()[0])
        run_children(__file__, sys.argv[1:] or ["sqlite", "postgresql"])
