"""The Alertmanager receiver: tokens, payloads, re-deliveries, routing, runbooks, bad input."""

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from oncall.alerts import receiver
from oncall.alerts.models import AlertOccurrence, AlertSource
from oncall.alerts.sources import create_source
from oncall.runbooks.models import AlertName, Runbook
from oncall.shifts.models import ShadowShift
from tests.stack import ROOT, StackDatabase, app_env, manage

URL = "/integrations/alertmanager/"
STARTS = "2026-12-02T13:10:05.123456789Z"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def source_and_token(team):
    return create_source(team=team, name="prod")


@pytest.fixture
def token(source_and_token):
    return source_and_token[1]


def alert(name="PaymentsApiHighErrorRate", *, fp="a1b2c3d4e5f60718", starts=STARTS,
          status="firing", ends="0001-01-01T00:00:00Z", labels=None, annotations=None):  # fmt: skip
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", **(labels or {})},
        "annotations": annotations if annotations is not None else {"summary": "5xx above 5%"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fp,
    }


def payload(*alerts, version="4", status="firing"):
    return {
        "version": version,
        "groupKey": '{}:{alertname="PaymentsApiHighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "oncall",
        "groupLabels": {"alertname": "PaymentsApiHighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def post(client, body, token, **extra):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(URL, data, content_type="application/json", headers=headers, **extra)


def test_it_stores_an_alert_and_answers_with_counts(client, token, team):
    response = post(client, payload(alert()), token)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "alerts": 1, "new": 1, "updated": 0, "drill": 0, "rejected": [],
        "notes": [],
    }  # fmt: skip
    occurrence = AlertOccurrence.objects.get()
    assert occurrence.team == team
    assert occurrence.alertname == "PaymentsApiHighErrorRate"
    assert occurrence.status == "firing"
    assert occurrence.starts_at == datetime(2026, 12, 2, 13, 10, 5, 123456, tzinfo=UTC)
    assert occurrence.ends_at is None
    assert occurrence.summary == "5xx above 5%"
    assert occurrence.source.name == "prod"
    assert AlertSource.objects.get().last_used_at is not None


def test_it_never_makes_a_second_occurrence_on_redelivery(client, token):
    for _ in range(3):
        assert post(client, payload(alert()), token).status_code == 200
    occurrence = AlertOccurrence.objects.get()
    assert occurrence.deliveries == 3
    # The same alert firing again later is a new occurrence (a new startsAt).
    post(client, payload(alert(starts="2026-12-02T15:00:00Z")), token)
    assert AlertOccurrence.objects.count() == 2


def test_a_resolve_updates_the_occurrence_and_a_late_firing_copy_does_not_reopen_it(client, token):
    post(client, payload(alert()), token)
    resolved = alert(status="resolved", ends="2026-12-02T13:25:05Z")
    response = post(client, payload(resolved, status="resolved"), token)
    assert response.json()["updated"] == 1
    occurrence = AlertOccurrence.objects.get()
    assert occurrence.status == "resolved"
    assert occurrence.ends_at == datetime(2026, 12, 2, 13, 25, 5, tzinfo=UTC)
    post(client, payload(alert()), token)  # a retry of an older post arriving late
    occurrence.refresh_from_db()
    assert occurrence.status == "resolved"
    assert AlertOccurrence.objects.count() == 1


def test_a_resolve_seen_first_is_stored_resolved(client, token):
    post(client, payload(alert(status="resolved", ends="2026-12-02T13:11:00Z")), token)
    assert AlertOccurrence.objects.get().status == "resolved"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer oncall_am_ffffffffffff_x"],
)
def test_it_refuses_a_missing_or_wrong_token(client, token, header):
    headers = {"Authorization": header} if header else {}
    response = client.post(
        URL, json.dumps(payload(alert())), content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AlertOccurrence.objects.count() == 0


def test_it_refuses_a_token_with_the_right_key_and_a_wrong_secret(client, token):
    key = token.rsplit("_", 1)[0]
    assert post(client, payload(alert()), key + "_wrong").status_code == 401
    assert AlertOccurrence.objects.count() == 0


def test_it_refuses_a_revoked_token(client, source_and_token, lead):
    source, token = source_and_token
    source.revoke(by=lead)
    assert post(client, payload(alert()), token).status_code == 401
    assert AlertOccurrence.objects.count() == 0


def test_the_token_is_stored_only_as_a_hash(source_and_token):
    source, token = source_and_token
    stored = AlertSource.objects.filter(pk=source.pk).values().get()
    assert all(token not in str(value) for value in stored.values())
    assert token.split("_")[-1] not in stored["secret_hash"]
    assert AlertSource.for_token(token) == source


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe", "the body is not"),
        (b"[1, 2]", "the body is JSON but not an object"),
        (json.dumps(payload(alert(), version="3")), "version '3' is not supported"),
        (json.dumps({"version": "4", "status": "firing"}), "the payload has no alerts list"),
        (json.dumps({"version": "4", "alerts": {"a": 1}}), "alerts is not a list"),
        (b"[" * 100_000 + b"]" * 100_000, "the body nests too deeply"),
        (b'{"version": "4", "alerts": [], "n": ' + b"9" * 5000 + b"}", "the body is not JSON we"),
    ],
)
def test_it_refuses_a_body_it_cannot_read_with_a_one_line_reason(client, token, body, reason):
    response = post(client, body, token)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith(reason)
    assert "\n" not in error
    assert AlertOccurrence.objects.count() == 0


def test_it_refuses_a_payload_over_one_mebibyte(client, token):
    big = alert(annotations={"description": "x" * (receiver.MAX_BODY + 10)})
    response = post(client, payload(big), token)
    assert response.status_code == 413
    assert AlertOccurrence.objects.count() == 0


def test_a_payload_just_under_the_limit_is_read(client, token):
    body = payload(alert(annotations={"description": ""}))
    room = receiver.MAX_BODY - len(json.dumps(body)) - 10
    body["alerts"][0]["annotations"]["description"] = "y" * room
    assert post(client, body, token).status_code == 200
    # Annotations are bounded when stored.
    stored = AlertOccurrence.objects.get().description
    assert len(stored) == receiver.MAX_ANNOTATION_CHARS


def test_alerts_left_out_by_alertmanager_are_noted(client, token):
    body = {**payload(alert()), "truncatedAlerts": 7}
    response = post(client, body, token)
    assert response.json()["notes"] == [
        "Alertmanager left out 7 alerts of this group (its max_alerts); they are not stored"
    ]
    assert AlertOccurrence.objects.count() == 1


def test_it_answers_405_to_a_get(client, token):
    response = client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405


def test_a_bad_alert_fails_alone(client, token):
    alerts = [
        alert(fp="good000000000001"),
        "not an object",
        alert(fp="bad0000000000002", starts="yesterday"),
        {**alert(fp="bad0000000000003"), "labels": {"severity": "page"}},
        alert(fp="bad0000000000004", status="exploded"),
        alert(fp="good000000000005", annotations={}),  # no annotations at all is fine
        {**alert(fp="good000000000006"), "annotations": None},
        alert(fp="good000000000007", labels={"weird-label": "x", "pod": "api-1"}),
    ]
    response = post(client, payload(*alerts), token)
    assert response.status_code == 200
    body = response.json()
    assert body["new"] == 4
    assert body["rejected"] == [
        {"index": 1, "reason": "not an object"},
        {"index": 2, "reason": "startsAt 'yesterday' is not an RFC 3339 time"},
        {"index": 3, "reason": "labels has no alertname"},
        {"index": 4, "reason": "status 'exploded' is neither firing nor resolved"},
    ]
    assert sorted(AlertOccurrence.objects.values_list("fingerprint", flat=True)) == [
        "good000000000001", "good000000000005", "good000000000006", "good000000000007",
    ]  # fmt: skip


def test_the_team_label_routes_only_to_allowed_teams_and_others_are_noted(
    client, source_and_token, team, other_team
):
    source, token = source_and_token
    source.other_teams.add(other_team)
    alerts = [
        alert(fp="f000000000000001", labels={"team": "platform"}),
        alert(fp="f000000000000002", labels={"team": "no-such-team"}),
        alert(fp="f000000000000003"),
        alert(fp="f000000000000004", labels={"team": "payments"}),
    ]
    body = post(client, payload(*alerts), token).json()
    by_fp = {o.fingerprint: o for o in AlertOccurrence.objects.select_related("team")}
    assert by_fp["f000000000000001"].team == other_team
    assert by_fp["f000000000000002"].team == team
    assert by_fp["f000000000000003"].team == team
    assert by_fp["f000000000000004"].team == team
    note = (
        "team label 'no-such-team' ignored: this source files only for payments, platform; "
        "filed under payments"
    )
    assert by_fp["f000000000000002"].note == note
    assert [o.note for fp, o in sorted(by_fp.items()) if fp != "f000000000000002"] == [""] * 3
    assert body["notes"] == [f"alert 1: {note}"]


def make_runbook(slug, title, *alerts, team=None, service="", archived=False):
    runbook = Runbook.objects.create(
        slug=slug, title=title, team=team, service=service, alerts=list(alerts), archived=archived
    )
    for name in alerts:
        AlertName.objects.create(runbook=runbook, name=name, key=name.lower())
    return runbook


def test_the_runbook_comes_from_the_alert_name_case_insensitively(client, token, team):
    runbook = make_runbook("payments/errors", "Payments API errors", "paymentsapihigherrorrate")
    post(client, payload(alert()), token)
    occurrence = AlertOccurrence.objects.get()
    assert occurrence.runbook == runbook
    assert occurrence.runbook_path() == "/runbooks/payments/errors/"


def test_a_service_label_narrows_a_choice_and_without_it_the_choice_page_is_linked(
    client, token, team
):
    make_runbook("api/latency", "API latency", "HighLatency", service="payments-api")
    worker = make_runbook("worker/latency", "Worker latency", "HighLatency", service="worker")
    make_runbook("old/latency", "Old latency", "HighLatency", archived=True)
    post(client, payload(
        alert("HighLatency", fp="f000000000000001", labels={"service": "worker"}),
        alert("HighLatency", fp="f000000000000002"),
    ), token)  # fmt: skip
    narrowed = AlertOccurrence.objects.get(fingerprint="f000000000000001")
    assert narrowed.runbook == worker
    both = AlertOccurrence.objects.get(fingerprint="f000000000000002")
    assert both.runbook is None
    assert both.runbook_count == 2
    assert both.runbook_path() == "/runbooks/alert/HighLatency?team=payments"


def test_a_runbook_url_into_this_app_is_the_fallback(client, token, settings):
    settings.SITE_URL = "https://oncall.example.com"
    disk = make_runbook("storage/disk-full", "Disk full", "DiskFull")
    post(client, payload(
        alert("NodeDiskAlmostFull", fp="f000000000000001",
              annotations={"runbook_url": "https://oncall.example.com/runbooks/alert/DiskFull"}),
        alert("NodeDiskGone", fp="f000000000000002",
              annotations={"runbook_url": "https://oncall.example.com/runbooks/storage/disk-full/"}),
        alert("Elsewhere", fp="f000000000000003",
              annotations={"runbook_url": "https://runbooks.example.org/runbooks/alert/DiskFull"}),
    ), token)  # fmt: skip
    by_fp = {o.fingerprint: o for o in AlertOccurrence.objects.all()}
    assert by_fp["f000000000000001"].runbook == disk
    assert by_fp["f000000000000002"].runbook == disk
    assert by_fp["f000000000000003"].runbook is None
    assert by_fp["f000000000000003"].runbook_count == 0


def test_a_storm_of_a_thousand_alerts_in_one_payload_is_accepted_in_bounded_queries(
    client, token, django_assert_max_num_queries
):
    alerts = [
        alert(f"Storm{i % 37}", fp=f"{i:016x}", labels={"instance": f"node-{i}"})
        for i in range(1000)
    ]
    body = payload(*alerts)
    assert len(json.dumps(body)) < receiver.MAX_BODY
    with django_assert_max_num_queries(20):
        response = post(client, body, token)
    assert response.json()["new"] == 1000
    with django_assert_max_num_queries(20):
        response = post(client, body, token)
    assert response.json() == {
        "status": "ok", "alerts": 1000, "new": 0, "updated": 1000, "drill": 0, "rejected": [],
        "notes": [],
    }  # fmt: skip
    assert AlertOccurrence.objects.count() == 1000


RACE_SETUP = """
import django
django.setup()
from oncall.alerts.sources import create_source
from oncall.teams.models import Team
team = Team.objects.create(slug="payments", name="Payments", time_zone="Asia/Tokyo")
print(create_source(team=team, name="race")[1])
"""

RACE_POST = """
import os, sys, time
import django
django.setup()
from django.test import Client
body = sys.stdin.read()
time.sleep(max(0.0, float(os.environ["RACE_AT"]) - time.time()))
response = Client(SERVER_NAME="127.0.0.1").post(
    "/integrations/alertmanager/", body, content_type="application/json",
    headers={"Authorization": "Bearer " + os.environ["RACE_TOKEN"]},
)
print(response.status_code)
"""


def test_concurrent_posts_of_the_same_group_never_double(tmp_path):
    """Four processes post the same 50 alerts at the same moment, as Alertmanager's
    retries and a second replica can: 50 occurrences, every delivery counted."""
    db = StackDatabase(tmp_path, label="alert_race")
    env = app_env(db, tmp_path)
    try:
        manage(env, "migrate", "--noinput", "-v", "0", timeout=300)
        token = (
            subprocess.run(
                [sys.executable, "-c", RACE_SETUP],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        body = json.dumps(payload(*[alert(f"Race{i}", fp=f"{i:016x}") for i in range(50)]))
        race_env = {**env, "RACE_AT": str(time.time() + 3), "RACE_TOKEN": token}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACE_POST],
                cwd=ROOT,
                env=race_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outputs = [proc.communicate(body, timeout=120) for proc in procs]
        assert [out.strip().splitlines()[-1] for out, _err in outputs] == ["200"] * 4, outputs
        rows = db.query("SELECT COUNT(*), SUM(deliveries) FROM alerts_alertoccurrence")
        assert rows == [(50, 200)]
    finally:
        db.drop()


def test_planning_is_asked_for_at_once_only_when_a_shift_is_on(
    client, token, team, trainee, primary, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        post(client, payload(alert(fp="f000000000000001")), token)
    assert callbacks == []
    now = timezone.now()
    ShadowShift.objects.create(
        team=team, trainee=trainee, primary=primary,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3),
    )  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        post(client, payload(alert(fp="f000000000000002", starts=now.isoformat())), token)
    assert callbacks == [receiver.request_planning]
    with django_capture_on_commit_callbacks() as callbacks:  # a re-delivery: nothing new
        post(client, payload(alert(fp="f000000000000002", starts=now.isoformat())), token)
    assert callbacks == []
