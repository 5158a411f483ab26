"""Runbook coverage: the team page, suggestions, and ``runbook_coverage`` on real rule files."""

import json
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from oncall.alerts.coverage import Suggester, words
from oncall.alerts.models import AlertOccurrence
from oncall.runbooks.models import AlertName, Runbook
from oncall.runbooks.sync import sync_folders
from tests.conftest import ROOT
from tests.stack import need

RULES = ROOT.parent / "shared" / "corpora" / "kube-prometheus-rules"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "https://oncall.example.com"


def make_runbook(slug, title, *alerts, team=None, service=""):
    runbook = Runbook.objects.create(
        slug=slug, title=title, team=team, service=service, alerts=list(alerts),
        source_path=f"{slug}.md",
    )  # fmt: skip
    for name in alerts:
        AlertName.objects.create(runbook=runbook, name=name, key=name.lower())
    return runbook


def occurred(team, name, *, ago=timedelta(hours=1), n=1, labels=None):
    now = timezone.now()
    for i in range(n):
        AlertOccurrence.objects.create(
            team=team, alertname=name, alert_key=name.lower(), fingerprint=f"{name}-{i}",
            starts_at=now - ago - timedelta(minutes=i), status="firing",
            labels={"alertname": name, **(labels or {})},
        )  # fmt: skip


def test_words_split_camel_case_and_titles_alike():
    assert words("PaymentsApiHighLatencyP99") == {"payment", "api", "high", "latency", "p", "99"}
    assert words("Payments API latency high") == {"payment", "api", "latency", "high"}


def test_suggestions_rank_runbooks_by_name_and_words(team):
    latency = make_runbook(
        "payments/latency", "Payments API latency high", "PaymentsApiLatency", team=team
    )
    make_runbook("payments/errors", "Payments API errors", "PaymentsApiHighErrorRate", team=team)
    make_runbook("storage/disk", "Disk almost full", "NodeDiskFull")
    suggestions = Suggester(team).suggest("PaymentsApiHighLatencyP99")
    assert [s.runbook for s in suggestions][:1] == [latency]
    assert len(suggestions) <= 3
    assert all(s.runbook.slug != "storage/disk" for s in suggestions)
    assert suggestions[0].snippet == (
        "# payments/latency.md, in the front matter:\n"
        "alerts: [PaymentsApiLatency, PaymentsApiHighLatencyP99]"
    )


def test_the_coverage_page_lists_missing_runbooks_first_with_counts_and_snippets(
    client_for, team, trainee, django_assert_max_num_queries
):
    make_runbook("payments/latency", "Payments API latency high", "PaymentsApiLatency", team=team)
    make_runbook("payments/errors", "Payments API errors", "PaymentsApiHighErrorRate", team=team)
    make_runbook("a/hl", "High latency (api)", "HighLatency", service="api")
    make_runbook("b/hl", "High latency (worker)", "HighLatency", service="worker")
    occurred(team, "PaymentsApiHighErrorRate", n=5)
    occurred(team, "PaymentsApiHighLatencyP99", n=2, labels={"service": "payments-api"})
    occurred(team, "HighLatency", n=1)
    occurred(team, "<b>Injected</b>", n=1)
    occurred(team, "FiredLongAgo", ago=timedelta(days=45))
    client = client_for(trainee)
    with django_assert_max_num_queries(12):
        page = client.get("/teams/payments/coverage/").content.decode()
    names = (
        "PaymentsApiHighLatencyP99",
        "&lt;b&gt;Injected&lt;/b&gt;",
        "HighLatency",
        "PaymentsApiHighErrorRate",
    )
    order = [page.index(f'data-alert="{name}"') for name in names]
    assert order == sorted(order), "missing first (most fired first), then ambiguous, then covered"
    assert "<b>Injected</b>" not in page
    assert "FiredLongAgo" not in page
    assert "2 without a runbook, 1 ambiguous, 1 covered." in page
    assert "alerts: [PaymentsApiLatency, PaymentsApiHighLatencyP99]" in page
    assert "service: &quot;payments-api&quot;" in page
    ninety = client.get("/teams/payments/coverage/?days=90").content.decode()
    assert "FiredLongAgo" in ninety


def test_coverage_is_for_members_and_leads_only(client_for, team, lead, outsider, staff):
    assert client_for(lead).get("/teams/payments/coverage/").status_code == 200
    assert client_for(staff).get("/teams/payments/coverage/").status_code == 200
    assert client_for(outsider).get("/teams/payments/coverage/").status_code == 404


def coverage(*paths, fmt="text", fail_under=None):
    out, err = StringIO(), StringIO()
    args = [str(p) for p in paths] + ["--format", fmt]
    if fail_under is not None:
        args += ["--fail-under", str(fail_under)]
    code = 0
    try:
        call_command("runbook_coverage", *args, stdout=out, stderr=err)
    except SystemExit as e:
        code = e.code
    return code, out.getvalue(), err.getvalue()


def expected_pair_numbers(rules_dir, runbooks_dir):
    """Counted here without the app: alert names in the manifests, runbook files by name."""
    names = []
    for path in sorted(rules_dir.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            for group in document["spec"]["groups"]:
                names += [rule["alert"] for rule in group["rules"] if "alert" in rule]
    files = Counter(p.stem.lower() for p in runbooks_dir.rglob("*.md") if p.name != "_index.md")
    distinct = list(dict.fromkeys(names))
    covered = sum(1 for n in distinct if files[n.lower()] == 1)
    ambiguous = sum(1 for n in distinct if files[n.lower()] > 1)
    return len(names), len(distinct), covered, len(distinct) - covered - ambiguous, ambiguous


def test_runbook_coverage_gives_the_true_numbers_for_the_kube_prometheus_pair(db, corpus_dir):
    need(RULES.is_dir(), f"the kube-prometheus rules are not at {RULES} (outside this workplace)")
    sync_folders([corpus_dir])
    rules, total, covered, missing, ambiguous = expected_pair_numbers(RULES, corpus_dir)
    assert rules == 139  # the corpus README's count of alerting rules
    code, out, err = coverage(*sorted(RULES.glob("*.yaml")))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert (
        lines[-1]
        == f"{total} alerts: {covered} with a runbook, {missing} without, {ambiguous} ambiguous"
    )
    assert len(lines) == total + 1
    assert "covered    KubePodCrashLooping" in out
    assert "https://oncall.example.com/runbooks/kubernetes/kubepodcrashlooping/" in out
    code, out, _err = coverage(*sorted(RULES.glob("*.yaml")), fmt="json")
    report = json.loads(out)
    assert report["summary"]["alerts"] == total
    assert report["summary"]["missing"] == missing
    assert {a["state"] for a in report["alerts"] if a["alert"] == "KubePodCrashLooping"} == {
        "covered"
    }
    percent = 100 * covered / total
    assert coverage(*sorted(RULES.glob("*.yaml")), fail_under=int(percent))[0] == 0
    assert coverage(*sorted(RULES.glob("*.yaml")), fail_under=int(percent) + 1)[0] == 1


def test_runbook_coverage_names_each_bad_file_and_counts_the_rest(db, tmp_path):
    make_runbook("svc/disk", "Disk full", "DiskFull")
    make_runbook("a/x", "X for api", "Shared", service="api")
    make_runbook("b/x", "X for worker", "Shared", service="worker")
    good = tmp_path / "good.yml"
    good.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "job:up:sum", "expr": "sum(up)"},
        {"alert": "DiskFull", "expr": "disk > 0.9", "labels": {"severity": "page"}},
        {"alert": "DiskFull", "expr": "disk > 0.95", "labels": {"severity": "critical"}},
        {"alert": "Shared", "expr": "vector(1)"},
        {"alert": "NoBook", "expr": "vector(1)"},
        {"alert": "Templated", "expr": "rate(x[{{ .Values.window }}]) > 1"},
        {"alert": "{{ $name }}Down", "expr": "up == 0"},
    ]}]}))  # fmt: skip
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n  - name: x\n    rules: [\n")
    helm = tmp_path / "helm.yaml"
    helm.write_text("groups:\n{{- range .Values.groups }}\n  - name: {{ .name }}\n{{- end }}\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: ConfigMap\ndata: {}\n")
    folder = tmp_path / "rules.d"
    folder.mkdir()
    code, out, err = coverage(good, broken, helm, empty, folder, tmp_path / "absent.yaml")
    assert code == 1
    assert out.splitlines()[-1] == "4 alerts: 1 with a runbook, 2 without, 1 ambiguous"
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {broken}: not valid YAML: expected the node content, but found '<stream end>' at line 4",
        f"error: {helm}: not valid YAML: could not find expected ':' at line 3 "
        "(it holds {{ }} templating: render it first, e.g. with helm template)",
        f"error: {empty}: no rule groups (neither a rule file's groups: nor a PrometheusRule's spec.groups)",
        f"error: {folder}: is a directory, not a file (name its files, e.g. {folder}/*.yaml)",
        f"error: {tmp_path / 'absent.yaml'}: no such file",
    ]
    assert (
        f"warning: {good}: Templated: the expression is templated ({{{{ }}}}); counted by its name"
        in err
    )
    assert (
        f"warning: {good}: group g: alert name '{{{{ $name }}}}Down' is templated; render the file first"
        in err
    )


def test_alert_names_break_between_their_words_on_a_phone():
    from oncall.alerts.coverage import breakable

    assert breakable("KubePodCrashLooping") == "Kube<wbr>Pod<wbr>Crash<wbr>Looping"
    assert breakable("etcdHTTPRequestsSlow") == "etcd<wbr>HTTP<wbr>Requests<wbr>Slow"
    assert breakable("node_disk:p99") == "node_<wbr>disk:<wbr>p<wbr>99"
    assert breakable("<b>X</b>") == "&lt;b&gt;X&lt;/b&gt;"  # escaped, whatever it holds


def test_rare_words_outweigh_a_teams_common_ones(team, other_team):
    """PaymentsLedgerLagHigh shares "payments" and "high" with half the runbooks:
    the ones about the ledger and about lag come first, not the API latency one."""
    from django.conf import settings

    assert sync_folders([settings.RUNBOOKS_DIR]).ok
    suggested = [s.runbook.slug for s in Suggester(team).suggest("PaymentsLedgerLagHigh")]
    assert suggested[0] == "payments-db/replication-lag"
    assert {slug for slug in suggested if slug.startswith("ledger-worker/")}
    assert "payments-api/latency-high" not in suggested


def test_a_row_without_suggestions_offers_a_start_not_an_or(client_for, team, trainee):
    make_runbook("payments/latency", "Payments API latency high", "PaymentsApiLatency", team=team)
    occurred(team, "KubePodCrashLooping")
    page = client_for(trainee).get("/teams/payments/coverage/").content.decode()
    assert "Kube<wbr>Pod<wbr>Crash<wbr>Looping" in page
    assert "Start a runbook for it" in page and "Or start a runbook" not in page
    assert "/runbooks/?q=KubePodCrashLooping" in page
