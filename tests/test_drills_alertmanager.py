"""Drills through the team's real Alertmanager: drill alerts page the trainee, never the pager.

The first tests post webhook payloads to the receiver as Alertmanager would
and check how a drill's alert is attached (or ignored, with the reason). The
last starts the real ``prometheus-alertmanager`` on loopback, routed as
docs/alertmanager.md says: drill alerts to oncall's webhook (the app served
by the test's live server), everything else to a second local HTTP receiver
standing for the real pager; a drill replays through it while a real alert
goes through at the same time.
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.app import trace
from celery.worker import strategy
from django.test import Client
from django.utils import timezone

from oncall.alerts import receiver
from oncall.alerts.alertmanager_api import post_alerts
from oncall.alerts.models import AlertOccurrence, AlertSource
from oncall.alerts.sources import create_source
from oncall.drills import replay, running, tasks
from oncall.drills.models import Drill, DrillPage, PlayedStep, ResponseEvent
from oncall.drills.record import store_scenario
from oncall.drills.steps import check_steps
from tests.stack import free_port, need, wait_until

URL = "/integrations/alertmanager/"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
LABELS = {"severity": "critical", "service": "payments-api"}
STEPS = [
    {
        "kind": "fired",
        "offset": 0,
        "alertname": "PaymentsApiHighErrorRate",
        "labels": LABELS,
        "annotations": {"summary": "5xx above 5%"},
    },
    {
        "kind": "fired",
        "offset": 1,
        "alertname": "PaymentsDbPoolSaturated",
        "labels": {"severity": "warning", "service": "payments-db"},
        "annotations": {"summary": "Connection pool 100% used"},
    },
    {"kind": "resolved", "offset": 2, "alertname": "PaymentsApiHighErrorRate", "labels": LABELS},
]


@pytest.fixture
def scenario(team, lead):
    return store_scenario(
        team=team, title="Checkout errors", specs=check_steps(STEPS), by=lead, brief="Pages."
    )


@pytest.fixture
def drill(scenario, trainee, lead):
    return running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)


@pytest.fixture
def source(team):
    return create_source(team=team, name="prod")


def drill_alert(drill, name="PaymentsApiHighErrorRate", *, labels=None, status="firing",
                fp="d1d1d1d1d1d1d1d1", starts=None, ends=None):  # fmt: skip
    starts = starts or drill.started_at
    return {
        "status": status,
        "labels": {"alertname": name, **(labels or LABELS), "oncall_drill": str(drill.pk)},
        "annotations": {"summary": "5xx above 5%"},
        "startsAt": starts.isoformat(),
        "endsAt": ends.isoformat() if ends else "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }


def post(client, token, *alerts):
    body = {"version": "4", "status": "firing", "alerts": list(alerts)}
    response = client.post(
        URL, json.dumps(body), content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()


# -- the receiver: a drill's alert comes back --


def test_it_attaches_a_drill_alert_to_its_step_once_and_resolves_it(client, source, drill):
    token = source[1]
    answer = post(client, token, drill_alert(drill))
    assert answer["drill"] == 1 and answer["new"] == 0 and answer["notes"] == []
    page = DrillPage.objects.get(drill=drill)
    assert page.step.position == 1
    assert page.fingerprint == "d1d1d1d1d1d1d1d1"
    assert page.labels == {"alertname": "PaymentsApiHighErrorRate", **LABELS}
    assert page.resolved_at is None
    # Alertmanager repeats the group: the same page.
    post(client, token, drill_alert(drill))
    assert DrillPage.objects.filter(drill=drill).count() == 1
    ends = drill.started_at + timedelta(seconds=90)
    post(client, token, drill_alert(drill, status="resolved", ends=ends))
    page.refresh_from_db()
    assert page.resolved_at == ends
    assert not AlertOccurrence.objects.exists()


def test_a_real_alert_in_the_same_payload_is_stored_as_ever(client, source, drill):
    real = drill_alert(drill, fp="a1a1a1a1a1a1a1a1")
    del real["labels"]["oncall_drill"]
    answer = post(client, source[1], drill_alert(drill), real)
    assert (answer["new"], answer["drill"]) == (1, 1)
    assert AlertOccurrence.objects.get().fingerprint == "a1a1a1a1a1a1a1a1"
    assert DrillPage.objects.get().fingerprint == "d1d1d1d1d1d1d1d1"


def test_another_teams_source_cannot_reach_the_drill(client, drill, other_team):
    token = create_source(team=other_team, name="prod")[1]
    answer = post(client, token, drill_alert(drill))
    assert answer["notes"] == [
        f"alert 0: oncall_drill='{drill.pk}' names no drill of this source's teams; ignored"
    ]
    assert not DrillPage.objects.exists()
    assert not AlertOccurrence.objects.exists()


def test_a_source_that_may_file_for_the_team_can(client, drill, other_team):
    source, token = create_source(team=other_team, name="shared")
    source.other_teams.add(drill.team)
    post(client, token, drill_alert(drill))
    assert DrillPage.objects.filter(drill=drill).count() == 1


def test_an_unknown_drill_or_a_bad_value_is_ignored_with_the_same_words(client, source, drill):
    unknown = drill_alert(drill)
    unknown["labels"]["oncall_drill"] = str(drill.pk + 1000)
    bad = drill_alert(drill, fp="b2b2b2b2b2b2b2b2")
    bad["labels"]["oncall_drill"] = "drop table"
    answer = post(client, source[1], unknown, bad)
    assert answer["notes"] == [
        f"alert 0: oncall_drill='{drill.pk + 1000}' names no drill of this source's teams; ignored",
        "alert 1: oncall_drill='drop table' names no drill of this source's teams; ignored",
    ]
    assert not DrillPage.objects.exists()
    assert not AlertOccurrence.objects.exists()


def test_an_ended_drill_takes_no_more_pages(client, source, drill, lead):
    running.finish(drill=drill, by=lead)
    answer = post(client, source[1], drill_alert(drill))
    assert answer["notes"] == [f"alert 0: drill {drill.pk} is ended, not running; ignored"]
    assert not DrillPage.objects.exists()


def test_an_alert_no_step_fires_is_ignored(client, source, drill):
    answer = post(client, source[1], drill_alert(drill, "SomethingElse"))
    assert answer["notes"] == [
        f"alert 0: drill {drill.pk} has no step firing SomethingElse with these labels; ignored"
    ]
    assert not DrillPage.objects.exists()


def test_without_the_drills_handler_a_drill_alert_is_ignored_not_stored(
    client, source, drill, monkeypatch
):
    monkeypatch.setattr(receiver, "_drill_handler", [])
    answer = post(client, source[1], drill_alert(drill))
    assert answer["notes"] == ["alert 0: labelled oncall_drill but no drill can take it; ignored"]
    assert not AlertOccurrence.objects.exists()
    assert not DrillPage.objects.exists()


# -- the alert-sources page: a lead sets the Alertmanager --

PAGE = "/teams/payments/alert-sources/"


def set_url(client, source, url):
    return client.post(PAGE, {"alertmanager": source.pk, f"am-{source.pk}-alertmanager_url": url})


def test_a_lead_sets_and_clears_the_alertmanager_url(client_for, lead, source, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    client = client_for(lead)
    response = set_url(client, source[0], "http://127.0.0.1:9093/")
    assert response.status_code == 302
    source[0].refresh_from_db()
    assert source[0].alertmanager_url == "http://127.0.0.1:9093"
    page = client.get(PAGE).content.decode()
    assert "Drills post their alerts to the Alertmanager at http://127.0.0.1:9093." in page
    assert set_url(client, source[0], "").status_code == 302
    source[0].refresh_from_db()
    assert source[0].alertmanager_url == ""
    assert "Drills feed their pages directly" in client.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:9093", "The Alertmanager host 127.0.0.1 is not allowed or cannot be"),
        ("http://10.0.0.7:9093", "The Alertmanager host 10.0.0.7 is not allowed or cannot be"),
        ("ftp://am.example.com", "An Alertmanager URL starts with http:// or https:// and"),
        ("not a url at all", "Enter a valid URL."),
        ("http://am.example.com/?x=1", "An Alertmanager URL has no query (?) or fragment (#)."),
    ],
)
def test_a_url_the_rule_refuses_is_a_form_error(client_for, lead, source, settings, url, error):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = set_url(client_for(lead), source[0], url)
    assert response.status_code == 422
    assert error in response.content.decode()
    source[0].refresh_from_db()
    assert source[0].alertmanager_url == ""


def test_only_a_lead_of_the_team_sets_the_url(client_for, trainee, outsider, source, other_team):
    settings_url = "http://127.0.0.1:9093"
    assert set_url(client_for(trainee), source[0], settings_url).status_code == 404
    outsiders_source = create_source(team=other_team, name="theirs")[0]
    client = client_for(outsider)
    response = client.post(
        "/teams/platform/alert-sources/",
        {"alertmanager": source[0].pk, f"am-{source[0].pk}-alertmanager_url": settings_url},
    )
    assert response.status_code == 404
    assert set_url(client, outsiders_source, settings_url).status_code == 404  # not their page
    source[0].refresh_from_db()
    assert source[0].alertmanager_url == ""


def test_setting_the_url_needs_a_csrf_token(lead, source):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert set_url(client, source[0], "").status_code == 403


# -- the replay: what it posts, and when the post fails --


def test_a_step_posts_its_planned_start_and_the_scenarios_end(source, drill, settings):
    settings.SITE_URL = "https://oncall.example.com"
    steps = list(drill.scenario.steps.order_by("position"))
    fired = replay.alert_for(drill, steps[0], now=drill.started_at)
    assert fired["labels"] == {
        "alertname": "PaymentsApiHighErrorRate", **LABELS, "oncall_drill": str(drill.pk)
    }  # fmt: skip
    assert fired["startsAt"] == drill.started_at.isoformat()
    # Ends a while after the resolved step, so Alertmanager's own timeout never ends it early.
    ends = drill.started_at + timedelta(seconds=2) + replay.RESOLVE_SLACK
    assert fired["endsAt"] == ends.isoformat()
    assert fired["generatorURL"] == f"https://oncall.example.com/drills/{drill.pk}/"
    now = drill.started_at + timedelta(seconds=3)
    resolved = replay.alert_for(drill, steps[2], now=now)
    assert resolved["labels"] == fired["labels"]
    assert resolved["startsAt"] == fired["startsAt"]
    assert resolved["endsAt"] == now.isoformat()


def test_a_failed_post_is_named_and_the_page_fed_directly(source, drill, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    closed = free_port()  # nothing listens there
    AlertSource.objects.filter(pk=source[0].pk).update(
        alertmanager_url=f"http://127.0.0.1:{closed}"
    )
    assert replay.replay(now=drill.started_at) == 1
    page = DrillPage.objects.get(drill=drill)
    assert page.fingerprint == ""
    event = ResponseEvent.objects.get(response__drill=drill, kind=ResponseEvent.Kind.NOTE)
    assert event.text.startswith(
        "Step 1 (PaymentsApiHighErrorRate) could not go through the team's Alertmanager, "
        "so its page was fed directly: could not reach Alertmanager at 127.0.0.1:"
    )
    # Played once: the next tick neither posts nor feeds it again.
    assert replay.replay(now=drill.started_at) == 0
    assert PlayedStep.objects.filter(drill=drill).count() == 1


def test_a_private_alertmanager_is_refused_unless_allowed(source, drill, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    AlertSource.objects.filter(pk=source[0].pk).update(alertmanager_url="http://127.0.0.1:9093")
    replay.replay(now=drill.started_at)
    event = ResponseEvent.objects.get(response__drill=drill, kind=ResponseEvent.Kind.NOTE)
    assert "The Alertmanager host 127.0.0.1 is not allowed or cannot be found" in event.text
    assert DrillPage.objects.filter(drill=drill).count() == 1


def test_a_revoked_source_is_not_used(source, drill, settings):
    AlertSource.objects.filter(pk=source[0].pk).update(
        alertmanager_url="http://127.0.0.1:9093", revoked_at=timezone.now()
    )
    replay.replay(now=drill.started_at)
    assert not ResponseEvent.objects.filter(kind=ResponseEvent.Kind.NOTE).exists()
    assert DrillPage.objects.filter(drill=drill).count() == 1


# -- the real Alertmanager --


CONFIG = """
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    # Drill alerts go back to oncall and stop here: the pager never sees them.
    - matchers: ['oncall_drill=~".+"']
      receiver: oncall
      continue: false
      group_by: [oncall_drill, alertname]
    # Real alerts: a copy for oncall, then the pager as before.
    - receiver: oncall
      continue: true
    - receiver: pager
receivers:
  - name: oncall
    webhook_configs:
      - url: {oncall}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
  - name: pager
    webhook_configs:
      - url: {pager}
        send_resolved: true
"""


class Pager(ThreadingHTTPServer):
    """A webhook receiver on loopback standing for the real pager: it keeps every alert."""

    def __init__(self):
        self.alerts: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(inner):  # noqa: N805 - the server is self here
                body = inner.rfile.read(int(inner.headers.get("Content-Length") or 0))
                self.alerts.extend(json.loads(body)["alerts"])
                inner.send_response(200)
                inner.end_headers()

            def log_message(inner, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def alertmanager(tmp_path, live_server, source):
    need(os.path.exists(ALERTMANAGER), "apt-get install -y prometheus-alertmanager")
    pager = Pager()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        CONFIG.format(oncall=f"{live_server.url}{URL}", token=source[1], pager=pager.url)
    )
    port = free_port()
    log = open(tmp_path / "alertmanager.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: answers(f"{url}/-/ready"), 30), (
            tmp_path / "alertmanager.log"
        ).read_text()
        yield {"url": url, "pager": pager, "log": tmp_path / "alertmanager.log"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()
        pager.shutdown()
        pager.server_close()


@pytest.mark.django_db(transaction=True)
def test_a_drill_through_the_real_alertmanager_never_reaches_the_pager(
    alertmanager, source, drill, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the Alertmanager is on loopback
    AlertSource.objects.filter(pk=source[0].pk).update(alertmanager_url=alertmanager["url"])
    drill.refresh_from_db()
    log = alertmanager["log"]

    # A real alert fires while the drill runs.
    real = {
        "labels": {"alertname": "DiskFilling", "severity": "warning"},
        "annotations": {"summary": "disk 91% full"},
        "startsAt": datetime.now(UTC).isoformat(),
    }
    request = urllib.request.Request(
        f"{alertmanager['url']}/api/v2/alerts", data=json.dumps([real]).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200

    # The replay's ticks play the three steps, each once, through Alertmanager;
    # each page comes back before the next tick (an alert resolved before its
    # group's first notification would never be sent at all).
    def pages_back(expected):
        def check():
            pages = DrillPage.objects.filter(drill=drill)
            return {p.alertname: (p.fingerprint != "", p.is_firing) for p in pages} == expected

        return check

    api, pool = "PaymentsApiHighErrorRate", "PaymentsDbPoolSaturated"
    expected = [{api: (True, True)}, {api: (True, True), pool: (True, True)},
                {api: (True, False), pool: (True, True)}]  # fmt: skip
    # A worker killed after posting the first step and before claiming it:
    # the next tick posts it again, and it is still one alert and one page.
    first = drill.scenario.steps.get(position=1)
    post_alerts(alertmanager["url"], [replay.alert_for(drill, first, now=drill.started_at)])
    assert not PlayedStep.objects.filter(drill=drill).exists()
    for seconds, pages in enumerate(expected):
        assert replay.replay(now=drill.started_at + timedelta(seconds=seconds)) == 1
        assert wait_until(pages_back(pages), 30), log.read_text()
    assert PlayedStep.objects.filter(drill=drill).count() == 3
    assert DrillPage.objects.filter(drill=drill).count() == 2
    assert not ResponseEvent.objects.filter(kind=ResponseEvent.Kind.NOTE).exists()

    def real_paged():
        return any(a["labels"]["alertname"] == "DiskFilling" for a in alertmanager["pager"].alerts)

    assert wait_until(real_paged, 30), log.read_text()
    assert wait_until(lambda: AlertOccurrence.objects.filter(alertname="DiskFilling").exists(), 30)
    wait_until(lambda: False, 3)  # more group intervals: nothing of the drill follows
    assert [a for a in alertmanager["pager"].alerts if "oncall_drill" in a["labels"]] == []
    assert {a["labels"]["alertname"] for a in alertmanager["pager"].alerts} == {"DiskFilling"}
    assert list(AlertOccurrence.objects.values_list("alertname", flat=True)) == ["DiskFilling"]
    assert Drill.objects.get(pk=drill.pk).state == Drill.State.RUNNING


# -- the replay tick's log --


def test_an_idle_replay_tick_logs_nothing_and_a_busy_one_its_count(caplog):
    caplog.set_level(logging.INFO)
    name = tasks.REPLAY_TASK
    received = {"id": "1", "name": name, "args": "()", "kwargs": "{}", "eta": None}
    strategy.logger.info(trace.LOG_RECEIVED, received)
    for played in ("0", "2"):
        context = {"id": "1", "name": name, "return_value": played, "runtime": 0.01}
        trace.info(trace.LOG_SUCCESS, {**context, "args": "()", "kwargs": "{}"})
    other = {"id": "2", "name": "oncall.reminders.tasks.plan", "args": "()", "kwargs": "{}"}
    strategy.logger.info(trace.LOG_RECEIVED, {**other, "eta": None})
    assert [r.getMessage() for r in caplog.records] == [
        f"Task {name}[1] succeeded in 0.01s: 2",
        "Task oncall.reminders.tasks.plan[2] received",
    ]
