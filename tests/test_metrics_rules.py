"""The app's own alert rules (docs/prometheus-rules.yml): valid, tested, and each with a runbook.

promtool (Debian package ``prometheus``) checks the file and runs the unit
tests in tests/prometheus/; every alert's runbook_url must lead, through
/runbooks/alert/<name>, to a runbook in runbooks/ once that folder is synced;
and every metric a rule reads must be one /metrics serves.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from tests.stack import need

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "prometheus-rules.yml"
RULE_TESTS = ROOT / "tests" / "prometheus" / "oncall-rules.test.yml"
TOKEN = "rules-test-metrics-token"


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


@pytest.fixture
def promtool():
    found = shutil.which("promtool")
    need(found is not None, "promtool is not installed: apt-get install -y prometheus")
    return found


def test_it_ships_rules_that_promtool_accepts(promtool):
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_it_fires_each_alert_when_it_should_and_not_before(promtool):
    done = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == {rule["alert"] for rule in alert_rules()}, "every alert has a unit test"


def test_it_points_each_alert_at_its_own_runbook_url():
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"/runbooks/alert/{rule['alert']}"), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning")


def test_it_has_a_runbook_for_each_alert_in_the_sample_folder(client_for, trainee):
    call_command("sync_runbooks", str(settings.RUNBOOKS_DIR), verbosity=0)
    client = client_for(trainee)
    for rule in alert_rules():
        response = client.get(f"/runbooks/alert/{rule['alert']}")
        assert response.status_code == 302, rule["alert"]
        assert response["Location"].startswith("/runbooks/oncall-app/"), rule["alert"]
        page = client.get(response["Location"])
        assert page.status_code == 200
        assert rule["alert"] in page.content.decode()


def test_it_reads_only_metrics_that_the_app_serves(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    client.get("/accounts/login/")  # so request metrics have a sample
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    served = set()
    for family in text_string_to_metric_families(body):
        served.add(family.name)  # declared even before it has a sample (no sync yet)
        served.update(sample.name for sample in family.samples)
    wanted = {name for rule in alert_rules() for name in re.findall(r"oncall_\w+", rule["expr"])}
    assert wanted and wanted <= served, wanted - served
