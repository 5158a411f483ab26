"""War-room burst: 200 people open the same runbook while reminders and alerts pour in.

The full stack as deployed (the Procfile: gunicorn with 2 workers, one
Celery worker and beat) on PostgreSQL + Redis, then the same on the embedded
default (SQLite + filesystem broker) for comparison, in one run:

1. 200 signed-in clients (a session each) open the same runbook within 10 s
   (each at a random moment), then read it for 60 s: one request every 2 to
   5 s each, about 57 pages a second in all.
2. Meanwhile 5,000 reminders (email, one of 25 to each of the 200 people)
   fall due, spread evenly over those 70 s; beat's dispatch every 30 s sends
   them to an SMTP sink on loopback (aiosmtpd). Lateness = sent_at - due_at;
   a reminder still unsent 120 s after the last one fell due counts as late
   by its age then.
3. Meanwhile alerts arrive at the Alertmanager receiver at 20 a second (one
   new alert per webhook payload, with the source's token).

Targets: 0 errors (any answer other than 200, or no answer within 30 s);
reminders' p99 lateness <= 60 s. Page latency (p50/p95/p99) has no target of
its own; it is printed beside a baseline, the same page for one client on
the idle stack just before the burst.

The load generator runs in a process of its own (threads with http.client)
and reports its own cost: CPU used, and how late it started requests against
their schedule (the lag a saturated generator would add to every figure).
A reader waits for each page before reading on, so a slow stack serves fewer
pages than offered; the rate served is printed beside the rate offered.

To tell why pages are slow, it prints the CPU each process of the stack used
(from /proc: web with its workers, the Celery worker with its pool, beat,
redis), the web's CPU per request and so the share of a core the offered load
needs, and page latency in the seconds the worker was sending reminders
against the other seconds.

Run: .venv/bin/python bench/bench_burst.py [deployed] [embedded] (default both), or make bench.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from _runbooks_common import percentile
from _stack import ROOT, Stack, free_port, machine, unavailable, verdict, wait_until
from aiosmtpd.controller import Controller

# The environment may shrink a run to try the benchmark itself out.
CLIENTS = int(os.environ.get("BENCH_BURST_CLIENTS", "200"))
OPEN_WITHIN = 10.0  # s
READ_FOR = float(os.environ.get("BENCH_BURST_SECONDS", "60"))
READ_EVERY = (2.0, 5.0)  # s between one client's requests
REMINDERS = int(os.environ.get("BENCH_BURST_REMINDERS", "5000"))
ALERTS_PER_SECOND = 20
DRAIN_FOR = 120.0  # s after the last reminder falls due
TIMEOUT = 30.0  # s: a page slower than this is an error
TARGET_ERRORS = 0
TARGET_LATENESS_P99 = 60.0  # s
BASELINE_REQUESTS = 30

SEED = """
import json
from datetime import timedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from oncall.accounts.sessions import SessionStore
from django.utils import timezone
from oncall.alerts.sources import create_source
from oncall.reminders.models import Reminder
from oncall.runbooks.models import Runbook
from oncall.runbooks.sync import sync_folders
from oncall.teams.models import Membership, Team

sync_folders([settings.RUNBOOKS_DIR])
runbook = (Runbook.objects.filter(slug__endswith="certificate-expiry").first()
           or Runbook.objects.order_by("slug").first())
team = runbook.team or Team.objects.create(slug="war-room", name="War room", time_zone="UTC")
User = get_user_model()
people, cookies = [], []
for n in range(%(clients)d):
    user = User.objects.create(username=f"reader{n}", email=f"reader{n}@example.com")
    Membership.objects.create(user=user, team=team)
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "oncall.accounts.backends.PasswordBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    people.append(user)
    cookies.append(session.session_key)
# Due a day ahead for now; the burst moves them into its own 70 s.
later = timezone.now() + timedelta(days=1)
Reminder.objects.bulk_create(
    [Reminder(recipient=people[n %% len(people)], kind=Reminder.Kind.TEST, channel="email",
              due_at=later + timedelta(seconds=n * %(step)r),
              next_attempt_at=later + timedelta(seconds=n * %(step)r),
              dedupe_key=f"burst:{n}", subject=f"War-room reminder {n}",
              body="The payments-api certificate expires in 2 days.",
              link=f"{settings.SITE_URL}/runbooks/{runbook.slug}/")
     for n in range(%(reminders)d)],
    batch_size=1000,
)
_source, token = create_source(team=team, name="burst")
print(json.dumps({"slug": runbook.slug, "cookies": cookies, "token": token,
                  "alerts": runbook.alerts or ["BurstAlert"]}))
"""

# Moves the reminders so that the first falls due now, keeping their spacing.
RESCHEDULE = """
from django.db.models import F, Min
from django.utils import timezone
from oncall.reminders.models import Reminder
shift = timezone.now() - Reminder.objects.aggregate(first=Min("due_at"))["first"]
Reminder.objects.update(due_at=F("due_at") + shift, next_attempt_at=F("next_attempt_at") + shift)
"""


# -- the load generator (a process of its own) --------------------------------


def load(config_path: str, result_path: str) -> None:
    """Run the clients and the alert stream of ``config``; write what each saw."""
    import http.client

    config = json.loads(Path(config_path).read_text())
    port, slug = config["port"], config["slug"]
    headers = {"X-Forwarded-Proto": "https", "Host": f"127.0.0.1:{port}"}
    lock = threading.Lock()
    # (lag, latency, status, error, wall-clock start) of each request
    pages: list[tuple[float, float, int, str, float]] = []
    alerts: list[tuple[float, float, int, str, float]] = []
    t0 = time.monotonic() + 0.5
    wall0 = time.time() + 0.5

    csrf: dict[str, str] = {}  # each client's CSRF cookie, kept as a browser keeps it

    def get(cookie: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            conn.request(
                "GET", f"/runbooks/{slug}/",
                headers={**headers, "Cookie": browser_cookies(cookie, csrf.get(cookie))},
            )  # fmt: skip
            response = conn.getresponse()
            response.read()
            if token := csrf_cookie(response):
                csrf[cookie] = token
            return response.status, ""
        finally:
            conn.close()

    def post_alert(n: int) -> tuple[int, str]:
        now = datetime.now(UTC).isoformat()
        alert = {
            "status": "firing",
            "labels": {"alertname": config["alerts"][n % len(config["alerts"])],
                       "severity": "critical", "instance": f"node-{n}:9100"},
            "annotations": {"summary": f"burst alert {n}"},
            "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{n:016x}",
        }  # fmt: skip
        body = json.dumps(
            {"version": "4", "status": "firing", "receiver": "oncall", "groupKey": f"{{}}:{n}",
             "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": alert["labels"],
             "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
             "alerts": [alert]}
        )  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            conn.request(
                "POST", "/integrations/alertmanager/", body,
                {**headers, "Content-Type": "application/json",
                 "Authorization": f"Bearer {config['token']}"},
            )  # fmt: skip
            response = conn.getresponse()
            data = response.read()
            return response.status, "" if response.status == 200 else data[:200].decode()
        finally:
            conn.close()

    def timed(call, into: list, scheduled: float, *args) -> None:
        started = time.monotonic()
        try:
            status, error = call(*args)
        except OSError as e:
            status, error = 0, f"{e.__class__.__name__}: {e}"
        latency = time.monotonic() - started
        with lock:
            into.append((started - scheduled, latency, status, error, started - t0 + wall0))

    def client(n: int) -> None:
        rng = random.Random(n)
        opened = t0 + rng.uniform(0, OPEN_WITHIN)
        at = opened
        while at < opened + READ_FOR:
            # A reader waits for the page before reading on: behind schedule
            # (a slow answer) the next request goes at once, and its lag
            # counts from then, so lag is this process's delay alone.
            due = max(at, time.monotonic())
            time.sleep(max(0.0, due - time.monotonic()))
            timed(get, pages, due, config["cookies"][n])
            at += rng.uniform(*READ_EVERY)

    def alert_stream() -> None:
        # One poster per second's worth of alerts would fall behind if a post
        # took longer than 50 ms; a small pool keeps the schedule.
        end = t0 + OPEN_WITHIN + READ_FOR
        schedule = iter(range(10**9))

        def poster() -> None:
            while True:
                with lock:
                    n = next(schedule)
                at = t0 + n / ALERTS_PER_SECOND
                if at >= end:
                    return
                due = max(at, time.monotonic())
                time.sleep(max(0.0, due - time.monotonic()))
                timed(post_alert, alerts, due, n)

        threads = [threading.Thread(target=poster) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    cpu0, clock0 = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(config["cookies"]))]
    threads.append(threading.Thread(target=alert_stream))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(result_path).write_text(
        json.dumps(
            {
                "pages": pages,
                "alerts": alerts,
                "cpu": time.process_time() - cpu0,
                "wall": time.monotonic() - clock0,
            }
        )  # fmt: skip
    )


# -- the run ------------------------------------------------------------------


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def browser_cookies(session: str, csrf: str | None) -> str:
    """What a browser sends: its session, and the CSRF cookie once a page has set it."""
    return f"sessionid={session}" + (f"; csrftoken={csrf}" if csrf else "")


def csrf_cookie(response) -> str | None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == "csrftoken":
            return rest.split(";", 1)[0]
    return None


def baseline(port: int, slug: str, cookie: str) -> list[float]:
    """The page for one client on the idle stack: BASELINE_REQUESTS latencies in s."""
    import http.client

    timings, token = [], None
    for _ in range(BASELINE_REQUESTS + 3):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        started = time.monotonic()
        conn.request(
            "GET", f"/runbooks/{slug}/",
            headers={"X-Forwarded-Proto": "https", "Cookie": browser_cookies(cookie, token)},
        )  # fmt: skip
        response = conn.getresponse()
        response.read()
        token = csrf_cookie(response) or token
        timings.append(time.monotonic() - started)
        conn.close()
        assert response.status == 200, f"the runbook page answered {response.status}"
    return timings[3:]  # the first requests of each worker warm it up


def lateness(stack: Stack, now: datetime) -> tuple[list[float], int]:
    """Every reminder's lateness in s (unsent ones: their age at ``now``), and how many were sent."""
    rows = stack.db.query("SELECT due_at, sent_at, state FROM reminders_reminder")
    late, sent = [], 0
    for due, sent_at, state in rows:
        due = _aware(due)
        if state == "sent":
            sent += 1
            late.append((_aware(sent_at) - due).total_seconds())
        else:
            late.append((now - due).total_seconds())
    return late, sent


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ms(values: list[float], p: float) -> float:
    return percentile(values, p) * 1000


def run(configuration: str) -> dict:
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    stack = Stack(configuration, "burst", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("collectstatic", "--noinput", "-v", "0")
        seed = json.loads(
            stack.manage(
                "shell",
                code=SEED
                % {"clients": CLIENTS, "reminders": REMINDERS,
                   "step": (OPEN_WITHIN + READ_FOR) / REMINDERS},
            ).strip().splitlines()[-1]
        )  # fmt: skip
        port = free_port()
        stack.start_procfile(port)
        base = baseline(port, seed["slug"], seed["cookies"][0])
        before = machine()

        folder = Path(tempfile.mkdtemp(prefix="oncall-bench-burst-load-"))
        config, result = folder / "config.json", folder / "result.json"
        config.write_text(json.dumps({**seed, "port": port}))
        generator = subprocess.Popen(
            [sys.executable, __file__, "--load", str(config), str(result)], cwd=ROOT
        )
        cpu_before, clock_before = stack.cpu(), time.monotonic()
        stack.manage("shell", code=RESCHEDULE)
        generator.wait(timeout=OPEN_WITHIN + READ_FOR + 2 * TIMEOUT + 60)
        web_cpu = stack.cpu()["web"] - cpu_before["web"]
        web_clock = time.monotonic() - clock_before
        if generator.returncode:
            raise RuntimeError(f"the load generator failed ({generator.returncode})")
        seen = json.loads(result.read_text())

        def all_sent() -> bool:
            return stack.db.query(
                "SELECT COUNT(*) FROM reminders_reminder WHERE state = 'sent'"
            )[0][0] == REMINDERS  # fmt: skip

        last_due = _aware(stack.db.query("SELECT MAX(due_at) FROM reminders_reminder")[0][0])
        remaining = DRAIN_FOR - (datetime.now(UTC) - last_due).total_seconds()
        wait_until(all_sent, max(0.0, remaining), interval=1.0)
        cpu = {name: used - cpu_before.get(name, 0.0) for name, used in stack.cpu().items()}
        cpu_clock = time.monotonic() - clock_before
        late, sent = lateness(stack, datetime.now(UTC))
        sending = {
            int(_aware(at).timestamp())
            for (at,) in stack.db.query(
                "SELECT sent_at FROM reminders_reminder WHERE sent_at IS NOT NULL"
            )
        }
        return {
            "label": stack.label,
            "base": base,
            "pages": seen["pages"],
            "alerts": seen["alerts"],
            "cpu": seen["cpu"],
            "wall": seen["wall"],
            "late": late,
            "sent": sent,
            "sink": sink.count,
            "stored_alerts": stack.db.query("SELECT COUNT(*) FROM alerts_alertoccurrence")[0][0],
            "machine_before": before,
            "cpu_stack": cpu,
            "cpu_clock": cpu_clock,
            "web_cpu": web_cpu,
            "web_clock": web_clock,
            "sending": sending,
            "machine": machine(),
            "logs": {name: stack.log(name)[-2000:] for name in ("web", "worker", "beat")},
        }
    finally:
        stack.close()
        controller.stop()


def report(figures: dict) -> None:
    label = figures["label"]
    pages = figures["pages"]
    latencies = [latency for _lag, latency, *_rest in pages]
    errors = [
        f"{status} {error}".strip() for _lag, _l, status, error, _at in pages if status != 200
    ]
    alert_errors = [
        f"{status} {error}".strip()
        for _lag, _l, status, error, _at in figures["alerts"]
        if status != 200
    ]
    lags = [lag for lag, *_rest in pages + figures["alerts"]]
    late = figures["late"]
    base = figures["base"]
    print(f"[{label}] before the burst: {figures['machine_before']}")
    print(
        f"[{label}]   page, 1 client, idle (baseline)   p50 {statistics.median(base) * 1000:7.1f} ms"
        f"   p95 {ms(base, 95):7.1f} ms   p99 {ms(base, 99):7.1f} ms"
    )
    p50 = statistics.median(latencies) * 1000
    print(
        f"[{label}]   page, {CLIENTS} clients, burst        p50 {p50:7.1f} ms   p95 "
        f"{ms(latencies, 95):7.1f} ms   p99 {ms(latencies, 99):7.1f} ms   ({len(pages)} pages, "
        f"{len(pages) / (OPEN_WITHIN + READ_FOR):.0f}/s; no target; p95 x"
        f"{percentile(latencies, 95) / percentile(base, 95):.1f} the baseline)"
    )
    total_errors = len(errors) + len(alert_errors)
    print(
        f"[{label}]   errors {total_errors} ({len(errors)} pages, {len(alert_errors)} alert posts)"
        f"   target {TARGET_ERRORS}: {verdict(total_errors <= TARGET_ERRORS)}"
    )
    for error in sorted(set(errors + alert_errors))[:5]:
        print(f"[{label}]     e.g. {error}")
    alert_latencies = [latency for _lag, latency, *_rest in figures["alerts"]]
    print(
        f"[{label}]   alerts posted {len(figures['alerts'])} at {ALERTS_PER_SECOND}/s: p50 "
        f"{statistics.median(alert_latencies) * 1000:.1f} ms, p99 {ms(alert_latencies, 99):.1f} ms; "
        f"{figures['stored_alerts']} stored"
    )
    p99 = percentile(late, 99)
    print(
        f"[{label}]   reminders {figures['sent']}/{REMINDERS} sent ({figures['sink']} at the sink), "
        f"lateness p50 {statistics.median(late):.1f} s, p99 {p99:.1f} s, max {max(late):.1f} s"
        f"   target p99 <= {TARGET_LATENESS_P99:.0f} s: {verdict(p99 <= TARGET_LATENESS_P99)}"
    )
    print(
        f"[{label}]   load generator: CPU {figures['cpu']:.1f} s in {figures['wall']:.0f} s "
        f"({figures['cpu'] / figures['wall']:.0%} of one core); requests started late by "
        f"p50 {ms(lags, 50):.1f} ms, p99 {ms(lags, 99):.1f} ms"
    )
    print(f"[{label}]   {figures['machine']} (at the end of the burst)")
    seconds = figures["cpu_clock"]
    used = ", ".join(
        f"{name} {value:.1f} s ({value / seconds:.0%})"
        for name, value in figures["cpu_stack"].items()
    )
    print(
        f"[{label}]   CPU used in the {seconds:.0f} s from the burst's start to the last "
        f"reminder sent (share of one core): {used}"
    )
    per_request = figures["web_cpu"] / (len(pages) + len(figures["alerts"]))
    offered = CLIENTS / statistics.mean(READ_EVERY) + ALERTS_PER_SECOND
    starts = [r[4] for r in pages]
    print(
        f"[{label}]   web CPU per request {per_request * 1000:.1f} ms: the offered "
        f"{offered:.0f} requests/s need {offered * per_request:.0%} of one core; the web got "
        f"{figures['web_cpu'] / figures['web_clock']:.0%} while the clients ran; pages served "
        f"{len(pages) / (max(starts) - min(starts)):.0f}/s of "
        f"{CLIENTS / statistics.mean(READ_EVERY):.0f}/s offered"
    )
    during = [r[1] for r in pages if int(r[4]) in figures["sending"]]
    outside = [r[1] for r in pages if int(r[4]) not in figures["sending"]]
    if during and outside:
        print(
            f"[{label}]   page p50/p95 in the seconds the worker was sending reminders: "
            f"{statistics.median(during) * 1000:.0f}/{ms(during, 95):.0f} ms ({len(during)} pages); "
            f"in the others: {statistics.median(outside) * 1000:.0f}/{ms(outside, 95):.0f} ms "
            f"({len(outside)} pages)"
        )
    if total_errors or p99 > TARGET_LATENESS_P99:
        for name, text in figures["logs"].items():
            if text.strip():
                print(f"[{label}]   --- last lines of {name}'s log ---\n{text}")


def main(configurations: list[str]) -> None:
    print(__doc__.strip().splitlines()[0])
    print(f"before: {machine()}")
    results = []
    for configuration in configurations:
        reason = unavailable(configuration)
        if reason:
            print(f"[{configuration}] skipped: {reason}")
            continue
        figures = run(configuration)
        report(figures)
        results.append(figures)
    if len(results) == 2:
        print("side by side")
        print(f"  {'':28} {results[0]['label']:>28} {results[1]['label']:>28}")
        rows = [
            ("page p50 ms", lambda f: statistics.median(_latencies(f)) * 1000),
            ("page p95 ms", lambda f: ms(_latencies(f), 95)),
            ("page p99 ms", lambda f: ms(_latencies(f), 99)),
            ("errors", lambda f: sum(r[2] != 200 for r in f["pages"] + f["alerts"])),
            ("reminder lateness p99 s", lambda f: percentile(f["late"], 99)),
        ]
        for name, value in rows:
            print(f"  {name:28} {value(results[0]):28.1f} {value(results[1]):28.1f}")


def _latencies(figures: dict) -> list[float]:
    return [latency for _lag, latency, *_rest in figures["pages"]]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        load(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1:] or ["deployed", "embedded"])
