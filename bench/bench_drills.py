"""Drills: replay accuracy, and the console's latency from a trainee's action to the game master.

**Replay accuracy.** The app runs as the Procfile writes it (web, worker, beat: bench/_stack.py) on
each configuration. 10 drills start together, each a scenario of 50 steps
(40 alerts fired, 10 injects) spread over 0..98 s. The beat's ``drills-replay``
entry ticks every second. For every step the database records when it was
planned (start + offset) and when it was played; the figures are p50, p95 and
max of played - planned, and their ratio to the beat's own interval (1 s), the
least lateness a tick-driven replay can promise. Target: p95 <= 2 s.

**Console latency.** One running drill, its trainee and its game master
signed in (sessions made by the app's own login). The game master's console
polls as the page does: htmx GETs the live part of the console
(``HX-Request``, ``HX-Target: drill-live``), and the next poll is due
``refresh_seconds`` (read from the page's ``hx-trigger``) after the previous
one was swapped in. Meanwhile the trainee posts 36 notes through the
console's form (CSRF token and all) at random moments 0.3..2.5 s apart, so
each lands at a different point of the poll's cycle. A note's latency is from
the moment its POST is sent to the end of the first poll whose answer shows
it. Figures: p50, p95 and max over the notes, and the POST's own time. Target:
p95 <= 5 s. Most of the figure is the page's poll interval, as a person
watching the console sees it.

Run: .venv/bin/python bench/bench_drills.py [replay|console] [embedded|deployed ...]
(both measurements when none is named).
"""

import random
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import Stack, machine, unavailable, verdict  # noqa: E402

from tests.stack import free_port, wait_until  # noqa: E402

DRILLS, STEPS, TICK = 10, 50, 1.0

SEED = f"""
from django.contrib.auth import get_user_model
from oncall.drills.record import store_scenario
from oncall.drills.running import schedule_drill
from oncall.drills.steps import check_steps
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="bench", name="Bench")
lead = User.objects.create_user("bench-lead")
Membership.objects.create(user=lead, team=team, role="lead")
steps = [
    {{"kind": "inject", "offset": 2 * n, "text": f"inject {{n}}"}} if n % 5 == 4 else
    {{"kind": "fired", "offset": 2 * n, "alertname": f"Alert{{n}}", "labels": {{"n": str(n)}}}}
    for n in range({STEPS})
]
scenario = store_scenario(team=team, title="bench", specs=check_steps(steps))
for d in range({DRILLS}):
    trainee = User.objects.create_user(f"bench-trainee-{{d}}")
    Membership.objects.create(user=trainee, team=team)
    schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(configuration: str) -> None:
    why = unavailable(configuration)
    if why:
        print(f"{configuration}: skipped ({why})")
        return
    stack = Stack(configuration, "drills")
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_procfile(free_port())
        stack.manage("shell", code=SEED)
        total = DRILLS * STEPS

        def played() -> int:
            return stack.db.query("SELECT COUNT(*) FROM drills_playedstep")[0][0]

        if not wait_until(lambda: played() == total, 2 * STEPS + 120, interval=1.0):
            raise RuntimeError(f"{played()} of {total} steps played\n{stack.log('worker')[-2000:]}")
        rows = stack.db.query("SELECT planned_at, played_at FROM drills_playedstep")
        late = [
            (played_at - planned_at).total_seconds()
            if not isinstance(played_at, str)
            else (_parse(played_at) - _parse(planned_at)).total_seconds()
            for planned_at, played_at in rows
        ]
        absolute = [abs(x) for x in late]
        p95 = percentile(absolute, 0.95)
        print(
            f"{stack.label}: {len(late)} steps of {DRILLS} drills; |played - planned| "
            f"p50 {statistics.median(absolute):.2f} s, p95 {p95:.2f} s "
            f"({p95 / TICK:.2f}x the beat interval), max {max(absolute):.2f} s; "
            f"target p95 <= 2 s: {verdict(p95 <= 2.0)}; {machine()}"
        )
    finally:
        stack.close()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- console latency ------------------------------------------------------------------

NOTES = 36

CONSOLE_SEED = """
from django.contrib.auth import get_user_model
from django.test import Client
from oncall.drills.record import store_scenario
from oncall.drills.running import schedule_drill
from oncall.drills.steps import check_steps
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="bench", name="Bench")
lead = User.objects.create_user("bench-lead")
trainee = User.objects.create_user("bench-trainee")
Membership.objects.create(user=lead, team=team, role="lead")
Membership.objects.create(user=trainee, team=team)
steps = [{"kind": "fired", "offset": 0, "alertname": "CheckoutErrors", "labels": {"severity": "page"}}]
scenario = store_scenario(team=team, title="bench console", specs=check_steps(steps))
drill = schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
sessions = []
for user in (trainee, lead):
    client = Client()
    client.force_login(user)
    sessions.append(client.cookies["sessionid"].value)
print("SEED", drill.pk, *sessions)
"""


class Browser:
    """Just enough of a browser for the console: cookies by hand (they are
    Secure, behind the TLS proxy), the proxy's header, the page's own Origin."""

    def __init__(self, url: str, session: str):
        self.url = url
        self.cookies = {"sessionid": session}

    def request(self, path: str, *, data: dict | None = None, headers: dict | None = None) -> str:
        all_headers = {
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            host = self.url.removeprefix("http://")
            all_headers |= {
                "Origin": f"https://{host}",
                "Referer": f"https://{host}{path}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
        request = urllib.request.Request(self.url + path, data=body, headers=all_headers)
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.read().decode()


def console_latency(configuration: str) -> None:
    why = unavailable(configuration)
    if why:
        print(f"{configuration}: skipped ({why})")
        return
    stack = Stack(configuration, "console")
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("collectstatic", "--noinput", "-v", "0")
        url = stack.start_procfile(free_port())
        seeded = next(
            line for line in stack.manage("shell", code=CONSOLE_SEED).splitlines()
            if line.startswith("SEED ")
        )  # fmt: skip
        drill, trainee_session, lead_session = seeded.split()[1:]
        console = f"/drills/{drill}/"
        trainee, game_master = Browser(url, trainee_session), Browser(url, lead_session)

        page = trainee.request(console)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        first = game_master.request(console)
        every = float(re.search(r'hx-trigger="every (\d+(?:\.\d+)?)s"', first).group(1))

        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        polls: list[float] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                started = time.monotonic()
                body = game_master.request(
                    console, headers={"HX-Request": "true", "HX-Target": "drill-live"}
                )
                done = time.monotonic()
                polls.append(done - started)
                for text in list(sent):
                    if text not in seen and text in body:
                        seen[text] = done
                stop.wait(every)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        posts = []
        rng = random.Random(22)
        for n in range(NOTES):
            time.sleep(rng.uniform(0.3, 2.5))
            text = f"bench-note-{n:02}-{rng.randrange(10**6):06}"
            sent[text] = time.monotonic()
            trainee.request(
                f"{console}note/",
                data={"csrfmiddlewaretoken": token, "text": text},
                headers={"X-CSRFToken": token},
            )
            posts.append(time.monotonic() - sent[text])
        wait_until(lambda: len(seen) == len(sent), 4 * every + 30, interval=0.2)
        stop.set()
        poller.join(timeout=60)
        missing = [t for t in sent if t not in seen]
        if missing:
            raise RuntimeError(f"{len(missing)} notes never reached the game master's view")
        latency = [seen[t] - sent[t] for t in sent]
        p95 = percentile(latency, 0.95)
        print(
            f"{stack.label}: {len(latency)} notes, game master polling every {every:g} s; "
            f"note to game master's view p50 {statistics.median(latency):.2f} s, "
            f"p95 {p95:.2f} s, max {max(latency):.2f} s; note POST p50 "
            f"{statistics.median(posts) * 1000:.0f} ms, poll GET p50 "
            f"{statistics.median(polls) * 1000:.0f} ms; target p95 <= 5 s: "
            f"{verdict(p95 <= 5.0)}; {machine()}"
        )
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{error}\n{stack.log('web')[-3000:]}") from error
    finally:
        stack.close()


MEASURES = {"replay": run, "console": console_latency}

if __name__ == "__main__":
    args = sys.argv[1:]
    measures = [a for a in args if a in MEASURES] or list(MEASURES)
    configurations = [a for a in args if a not in MEASURES] or ["embedded", "deployed"]
    for measure in measures:
        for configuration in configurations:
            MEASURES[measure](configuration)
