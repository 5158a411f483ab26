"""A real Alertmanager pages the trainee on a shadow shift, once, through the whole stack.

Everything runs as in production, each part a process of its own:

- ``prometheus-alertmanager`` on a free loopback port (its own storage
  folder, clustering off), its webhook receiver pointing at the app with the
  alert source's bearer token, ``group_wait: 1s``, ``group_interval: 2s``;
- the app under gunicorn, a Celery worker and a throwaway ``redis-server``
  as the broker, on the stack's own database (see test_reminders_faults.py);
- an SMTP server on loopback in this process.

No beat runs: the receiver asks for a planning round when a new alert lands
during a shift, and the planning round asks for a dispatch. The test posts
alerts to Alertmanager's own API and checks exactly one email, the timeline
on the shift page, and that Alertmanager's repeats and the resolve notify no
one again. A second test puts a real Prometheus in front: a rule that always
fires (``expr: vector(1)``, ``for: 0s``, evaluated every second) travels
Prometheus -> Alertmanager -> oncall -> the trainee's inbox, once.
"""

import http.cookiejar
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.stack import free_port, need, wait_until
from tests.test_reminders_faults import Stack
from tests.test_reminders_peers import SmtpSink

ROOT = Path(__file__).resolve().parent.parent.parent
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PASSWORD = "e2e-alerts-password"

pytestmark = pytest.mark.slow

SEED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from oncall.alerts.sources import create_source
from oncall.runbooks.models import AlertName, Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
people = {}
for name in ("trainee", "primary"):
    people[name] = User.objects.create_user(name, email=f"{name}@example.com", password=%(password)r)
    Membership.objects.create(user=people[name], team=team)
now = timezone.now()
shift = ShadowShift.objects.create(team=team, trainee=people["trainee"], primary=people["primary"],
    starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2), time_zone="Asia/Tokyo")
runbook = Runbook.objects.create(slug="payments/api-errors", title="Payments API errors", team=team)
AlertName.objects.create(runbook=runbook, name="PaymentsApiHighErrorRate", key="paymentsapihigherrorrate")
_source, token = create_source(team=team, name="alertmanager-e2e")
print(shift.pk, token)
"""

CONFIG = """
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 2s
receivers:
  - name: oncall
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def stack(tmp_path):
    need(os.path.exists(ALERTMANAGER), "apt-get install -y prometheus-alertmanager")
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stack = Stack(tmp_path)
    sink = SmtpSink().start()
    processes, logs = [], []
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_redis()
        web_port = free_port()
        stack.env["SITE_URL"] = f"http://127.0.0.1:{web_port}"
        seeded = stack.manage("shell", code=SEED % {"password": PASSWORD})
        shift_id, token = seeded.split()[-2:]
        stack.start_worker("alerts-e2e", smtp_port=sink.port)
        web_log = open(tmp_path / "web.log", "ab")  # noqa: SIM115 - closed below
        logs.append(web_log)
        processes.append(
            subprocess.Popen(
                [GUNICORN, "oncall.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers", "2"],
                cwd=ROOT, env=stack.env, stdout=web_log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip
        site = stack.env["SITE_URL"]
        assert wait_until(lambda: answers(f"{site}/accounts/login/"), 30), (
            tmp_path / "web.log"
        ).read_text()
        am_port = free_port()
        config = tmp_path / "alertmanager.yml"
        config.write_text(CONFIG.format(url=f"{site}/integrations/alertmanager/", token=token))
        am_log = open(tmp_path / "alertmanager.log", "ab")  # noqa: SIM115 - closed below
        logs.append(am_log)
        processes.append(
            subprocess.Popen(
                [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
                 f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                stdout=am_log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
        am = f"http://127.0.0.1:{am_port}"
        assert wait_until(lambda: answers(f"{am}/-/ready"), 30), (
            tmp_path / "alertmanager.log"
        ).read_text()
        yield {"stack": stack, "sink": sink, "am": am, "site": site, "shift": int(shift_id),
               "logs": tmp_path}  # fmt: skip
    finally:
        for process in reversed(processes):
            stop(process)
        for log in logs:
            log.close()
        stack.stop_workers()
        stack.stop_redis()
        sink.stop()
        stack.db.drop()


def post_alerts(am: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"{am}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200


def signed_in(site: str, username: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{site}/accounts/login/", timeout=5).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode(
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf}
    ).encode()
    opener.open(f"{site}/accounts/login/", data=form, timeout=5).read()
    return opener


def test_alertmanager_pages_the_trainee_once_and_the_timeline_follows(stack):
    db, sink, am = stack["stack"].db, stack["sink"], stack["am"]
    started = datetime.now(UTC) - timedelta(seconds=30)
    alert = {
        "labels": {"alertname": "PaymentsApiHighErrorRate", "severity": "critical",
                   "service": "payments-api"},
        "annotations": {"summary": "5xx above 5% for 5 minutes",
                        "description": "Checkout <em>fails</em> for some cards."},
        "startsAt": started.isoformat(),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
    }  # fmt: skip
    post_alerts(am, [alert])

    assert sink.wait_for(1, 60), (stack["logs"] / "alerts-e2e.log").read_text()
    message = sink.messages[0]
    assert message["To"] == "trainee@example.com"
    assert " ".join(message["Subject"].split()) == (
        "PaymentsApiHighErrorRate is firing — your primary is on it"
    )
    text = message.get_body(("plain",)).get_content()
    assert "5xx above 5% for 5 minutes" in text
    assert f"{stack['site']}/runbooks/payments/api-errors/" in text

    # Alertmanager repeats the group every couple of seconds: stored as
    # deliveries of the same occurrence, never a second email.
    def repeated():
        rows = db.query("SELECT deliveries FROM alerts_alertoccurrence")
        return len(rows) == 1 and rows[0][0] >= 3

    assert wait_until(repeated, 30), (stack["logs"] / "alertmanager.log").read_text()

    opener = signed_in(stack["site"], "trainee")
    page = opener.open(f"{stack['site']}/shifts/{stack['shift']}/", timeout=5).read().decode()
    assert "Alerts during this shift" in page
    assert "PaymentsApiHighErrorRate" in page
    assert ">firing<" in page

    post_alerts(am, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])

    def resolved():
        return db.query("SELECT status FROM alerts_alertoccurrence") == [("resolved",)]

    assert wait_until(resolved, 30), (stack["logs"] / "alertmanager.log").read_text()
    page = opener.open(f"{stack['site']}/shifts/{stack['shift']}/", timeout=5).read().decode()
    assert ">resolved<" in page
    assert "lasted " in page

    wait_until(lambda: False, 4)  # more repeats, plan and dispatch rounds
    assert len(sink.messages) == 1
    assert db.query(
        "SELECT kind, state, COUNT(*) FROM reminders_reminder GROUP BY kind, state"
    ) == [("live_page", "sent", 1)]


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

PROMETHEUS_CONFIG = """
global:
  evaluation_interval: 1s
  scrape_interval: 1m
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager}"]
"""

PROMETHEUS_RULES = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - record: e2e:always:one
        expr: vector(1)
      - alert: PaymentsApiHighErrorRate
        expr: vector(1)
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: "{{ $value }} is what vector(1) always says"
          runbook_url: "{site}/runbooks/alert/{{ $labels.alertname }}"
"""


def test_a_rule_firing_in_prometheus_reaches_the_trainee_once(stack, tmp_path):
    """Prometheus evaluates a rule that always fires and sends it to Alertmanager."""
    need(os.path.exists(PROMETHEUS), "apt-get install -y prometheus")
    db, sink = stack["stack"].db, stack["sink"]
    rules = tmp_path / "rules.yml"
    rules.write_text(PROMETHEUS_RULES.replace("{site}", stack["site"]))
    config = tmp_path / "prometheus.yml"
    alertmanager = stack["am"].removeprefix("http://")
    config.write_text(PROMETHEUS_CONFIG.format(rules=rules, alertmanager=alertmanager))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "ab")  # noqa: SIM115 - closed below
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}",
         # Alerts fired before Prometheus has found the Alertmanager wait for
         # the next resend (a minute by default).
         "--rules.alert.resend-delay=2s"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        assert sink.wait_for(1, 90), (tmp_path / "prometheus.log").read_text()[-3000:]
        message = sink.messages[0]
        assert message["To"] == "trainee@example.com"
        assert " ".join(message["Subject"].split()) == (
            "PaymentsApiHighErrorRate is firing — your primary is on it"
        )
        text = message.get_body(("plain",)).get_content()
        assert "1 is what vector(1) always says" in text
        assert f"{stack['site']}/runbooks/payments/api-errors/" in text
        labels = db.query("SELECT labels FROM alerts_alertoccurrence")
        assert len(labels) == 1
        stored = labels[0][0] if isinstance(labels[0][0], dict) else json.loads(labels[0][0])
        assert stored["alertname"] == "PaymentsApiHighErrorRate"
        assert stored["severity"] == "critical"
        wait_until(lambda: False, 5)  # more evaluations and Alertmanager repeats
        assert len(sink.messages) == 1
    finally:
        stop(prometheus)
        log.close()
