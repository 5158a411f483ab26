"""Hostile alerts at the receiver: each bad alert fails alone, named; teams stay apart.

- Times: a start or an end outside the years 2000 to 2999, or more than a day
  ahead of now, refuses that alert (a far-future start used to break the
  coverage page for every reader east of UTC, and one at -14:00 the receiver
  itself); rows stored before the bound are removed by a migration, and the
  coverage page counts nothing beyond a day ahead.
- Text: NUL or a lone surrogate in any field refuses that alert with the
  field named; the others are stored and the answer is 200, in DEBUG or not.
- Teams: a source files only under its own team and the teams allowed for
  it; occurrences are keyed per source, so one team's source can neither
  resolve, count nor pre-claim another team's occurrence.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence
from oncall.alerts.resolve import parse_runbook_url
from oncall.alerts.sources import create_source
from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.shifts.models import ShadowShift
from tests.test_alerts_receiver import alert, payload, post


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def source_and_token(team):
    return create_source(team=team, name="prod")


@pytest.fixture
def token(source_and_token):
    return source_and_token[1]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def stored() -> list[str]:
    return sorted(AlertOccurrence.objects.values_list("fingerprint", flat=True))


# --- times --------------------------------------------------------------------


def test_times_out_of_bounds_refuse_their_alert_and_the_rest_is_stored(client, token):
    now = timezone.now()
    alerts = [
        alert(fp="good000000000001", starts=iso(now - timedelta(minutes=5))),
        alert(fp="bad0000000000001", starts="9999-12-31T23:59:59Z"),
        alert(fp="bad0000000000002", starts="9999-12-31T23:59:59-14:00"),
        alert(fp="bad0000000000003", starts=iso(now + timedelta(hours=25))),
        alert(fp="bad0000000000004", starts="1999-12-31T23:59:59Z"),
        alert(fp="bad0000000000005", status="resolved", ends="9999-12-31T23:59:59-14:00"),
        alert(fp="bad0000000000006", status="resolved", ends=iso(now + timedelta(days=2))),
        # Clocks disagree a little: a start less than a day ahead is kept.
        alert(fp="good000000000002", starts=iso(now + timedelta(hours=23))),
        alert(fp="good000000000003", starts="2000-01-01T00:00:00Z"),
    ]
    response = post(client, payload(*alerts), token)
    assert response.status_code == 200
    body = response.json()
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    # Within the years, the day ahead of now is the closer bound.
    day_ahead = " is after " + iso(now + timedelta(days=1))[:10]
    assert reasons[1].startswith("startsAt 9999-12-31T23:59:59+00:00" + day_ahead)
    assert reasons[2].startswith("startsAt 9999-12-31T23:59:59-14:00" + day_ahead)
    assert reasons[3].startswith("startsAt ") and day_ahead in reasons[3]
    assert reasons[4] == "startsAt 1999-12-31T23:59:59+00:00 is before 2000-01-01T00:00:00+00:00"
    assert reasons[5].startswith("endsAt 9999-12-31T23:59:59-14:00" + day_ahead)
    assert reasons[6].startswith("endsAt ") and day_ahead in reasons[6]
    assert body["new"] == 3
    assert stored() == ["good000000000001", "good000000000002", "good000000000003"]


def test_the_coverage_page_answers_east_of_utc_beside_a_far_future_row(
    client_for, token, source_and_token, team, lead, django_assert_max_num_queries
):
    """A row stored before the receiver bounded times (the migration removes
    such rows; the page must not depend on it): the page answers, in Tokyo,
    and counts only what fired up to a day ahead of now."""
    now = timezone.now()
    client = client_for(lead)  # reads in Asia/Tokyo
    post(client, payload(alert(starts=iso(now - timedelta(hours=1)))), token)
    AlertOccurrence.objects.create(
        fingerprint="f" * 16, starts_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        status="firing", team=team, source=source_and_token[0],
        alertname="FromTheFuture", alert_key="fromthefuture",
    )  # fmt: skip
    with django_assert_max_num_queries(12):
        response = client.get("/teams/payments/coverage/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "PaymentsApiHighErrorRate" in page
    assert "FromTheFuture" not in page


@pytest.mark.django_db(transaction=True)
def test_the_migrations_key_occurrences_per_source_keep_them_and_remove_rows_out_of_time():
    executor = MigrationExecutor(connection)
    executor.migrate([("alerts", "0002_translated_labels")])
    old = executor.loader.project_state([("alerts", "0002_translated_labels")]).apps
    team = old.get_model("teams", "Team").objects.create(slug="payments", name="Payments")
    source = old.get_model("alerts", "AlertSource").objects.create(
        team=team, name="prod", key="k1", secret_hash="0" * 64
    )
    occurrence = old.get_model("alerts", "AlertOccurrence")
    fields = {"status": "firing", "team": team, "source": source, "alertname": "A"}
    kept = [
        ("kept000000000001", datetime(2026, 12, 1, 10, tzinfo=UTC), None),
        ("kept000000000002", datetime(2026, 12, 1, 11, tzinfo=UTC), datetime(2026, 12, 1, 12, tzinfo=UTC)),
        ("kept000000000003", datetime(2500, 1, 1, tzinfo=UTC), None),  # within the years
    ]  # fmt: skip
    gone = [
        ("gone000000000001", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), None),
        ("gone000000000002", datetime(1970, 1, 1, tzinfo=UTC), None),
        ("gone000000000003", datetime(2026, 12, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)),
    ]
    for fp, starts, ends in kept + gone:
        occurrence.objects.create(fingerprint=fp, starts_at=starts, ends_at=ends, **fields)

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert stored() == [fp for fp, _starts, _ends in kept]
    # The key is now per source: another source may hold the same fingerprint and start.
    first = AlertOccurrence.objects.get(fingerprint="kept000000000001")
    other_source = create_source(team=first.team, name="other")[0]
    AlertOccurrence.objects.create(
        fingerprint=first.fingerprint, starts_at=first.starts_at, status="firing",
        team=first.team, source=other_source, alertname="A", alert_key="a",
    )  # fmt: skip
    assert AlertOccurrence.objects.filter(fingerprint="kept000000000001").count() == 2


# --- text -----------------------------------------------------------------------


def labelled(**labels):
    return alert(fp="bad0000000000001", labels=labels)


HOSTILE = [
    (alert("Pay\x00ments", fp="bad0000000000001"), "labels['alertname'] holds a NUL character"),
    (
        alert("Pay\udfffments", fp="bad0000000000001"),
        "labels['alertname'] holds a lone surrogate (U+DFFF)",
    ),
    (labelled(**{"na\x00me": "x"}), "labels: a key holds a NUL character"),
    (labelled(**{"\ud800": "x"}), "labels: a key holds a lone surrogate (U+D800)"),
    (labelled(pod="api-\ud800"), "labels['pod'] holds a lone surrogate (U+D800)"),
    (labelled(pod="api-\x00"), "labels['pod'] holds a NUL character"),
    (
        alert(fp="bad0000000000001", annotations={"description": "a\x00b"}),
        "annotations['description'] holds a NUL character",
    ),
    (
        alert(fp="bad0000000000001", annotations={"x\udc00": "fine"}),
        "annotations: a key holds a lone surrogate (U+DC00)",
    ),
    (alert(fp="bad\x00000000001"), "fingerprint holds a NUL character"),
    (alert(fp="bad\udfff00000001"), "fingerprint holds a lone surrogate (U+DFFF)"),
    (
        {**alert(fp="bad0000000000001"), "generatorURL": "http://prometheus/\x00"},
        "generatorURL holds a NUL character",
    ),
    (
        {**alert(fp="bad0000000000001"), "generatorURL": "http://prometheus/\udfff"},
        "generatorURL holds a lone surrogate (U+DFFF)",
    ),
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize(("hostile", "reason"), HOSTILE, ids=[r for _a, r in HOSTILE])
def test_nul_or_a_lone_surrogate_refuses_its_alert_alone_naming_the_field(
    client, token, settings, hostile, reason, debug
):
    settings.DEBUG = debug
    body = payload(alert(fp="good000000000001"), hostile, alert("Other", fp="good000000000002"))
    # As Alertmanager would send it: JSON with \u escapes, ASCII on the wire.
    response = post(client, json.dumps(body), token)
    assert response.status_code == 200
    answer = response.json()
    assert answer["rejected"] == [{"index": 1, "reason": reason}]
    assert answer["new"] == 2
    assert stored() == ["good000000000001", "good000000000002"]


def test_a_lone_surrogate_summary_is_refused_so_planning_goes_on(
    client, token, team, trainee, primary
):
    now = timezone.now()
    ShadowShift.objects.create(
        team=team, trainee=trainee, primary=primary,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3),
    )  # fmt: skip
    starts = iso(now - timedelta(minutes=5))
    body = payload(
        alert("Poisoned", fp="bad0000000000001", starts=starts, annotations={"summary": "x\udfff"}),
        alert("Healthy", fp="good000000000001", starts=starts),
    )
    answer = post(client, body, token).json()
    assert answer["rejected"] == [
        {"index": 0, "reason": "annotations['summary'] holds a lone surrogate (U+DFFF)"}
    ]
    plan_reminders()
    pages = Reminder.objects.filter(kind=Reminder.Kind.LIVE_PAGE)
    assert [(p.recipient, p.subject) for p in pages] == [
        (trainee, "Healthy is firing — your primary is on it")
    ]


# --- teams apart -------------------------------------------------------------------


@pytest.fixture
def platform_token(other_team):
    return create_source(team=other_team, name="prod")[1]


def test_a_team_label_the_source_may_not_file_for_is_ignored_and_said(
    client, token, team, other_team
):
    body = post(client, payload(alert(labels={"team": "platform"})), token).json()
    occurrence = AlertOccurrence.objects.select_related("team").get()
    assert occurrence.team == team
    note = (
        "team label 'platform' ignored: this source files only for payments; filed under payments"
    )
    assert occurrence.note == note
    assert body["notes"] == [f"alert 0: {note}"]


def test_a_team_the_source_is_allowed_to_file_for_gets_the_alert(
    client, source_and_token, other_team
):
    source, token = source_and_token
    source.other_teams.add(other_team)
    body = post(client, payload(alert(labels={"team": "platform"})), token).json()
    occurrence = AlertOccurrence.objects.select_related("team").get()
    assert (occurrence.team, occurrence.note, body["notes"]) == (other_team, "", [])


def test_one_teams_source_can_neither_resolve_nor_count_another_teams_occurrence(
    client, token, platform_token, team, other_team
):
    post(client, payload(alert()), platform_token)
    resolve = alert(status="resolved", ends="2026-12-02T13:25:05Z", labels={"team": "platform"})
    body = post(client, payload(resolve, status="resolved"), token).json()
    # Payments learns nothing of platform's alert: its post made a row of its own.
    assert (body["new"], body["updated"]) == (1, 0)
    platform = AlertOccurrence.objects.get(team=other_team)
    assert (platform.status, platform.ends_at, platform.deliveries) == ("firing", None, 1)
    payments = AlertOccurrence.objects.get(team=team)
    assert payments.status == "resolved"
    # Platform's own resolve still reaches its occurrence.
    body = post(
        client, payload(alert(status="resolved", ends="2026-12-02T13:30:00Z")), platform_token
    )
    assert (body.json()["new"], body.json()["updated"]) == (0, 1)
    platform.refresh_from_db()
    assert (platform.status, platform.deliveries) == ("resolved", 2)


def test_one_teams_source_cannot_pre_claim_a_fingerprint(
    client, token, platform_token, team, other_team
):
    post(client, payload(alert(labels={"team": "platform"})), token)  # payments, first
    body = post(client, payload(alert()), platform_token).json()
    assert (body["new"], body["updated"]) == (1, 0)
    teams = sorted(AlertOccurrence.objects.values_list("team__slug", "deliveries"))
    assert teams == [("payments", 1), ("platform", 1)]


def test_a_runbook_url_that_decodes_to_nul_names_no_runbook(client, token, settings):
    settings.SITE_URL = "https://oncall.example.com"
    assert parse_runbook_url("https://oncall.example.com/runbooks/alert/Disk%00Full") is None
    assert parse_runbook_url("/runbooks/storage/disk%00/") is None
    assert parse_runbook_url("/runbooks/alert/DiskFull?team=%00") is None
    assert parse_runbook_url("/runbooks/alert/DiskFull").alertname == "DiskFull"
    alerts = [
        alert(fp="f000000000000001", annotations={"runbook_url": "/runbooks/alert/Disk%00Full"}),
        alert(fp="f000000000000002", annotations={"runbook_url": "/runbooks/storage%00/disk/"}),
    ]
    answer = post(client, payload(*alerts), token).json()
    assert (answer["new"], answer["rejected"]) == (2, [])
    assert list(AlertOccurrence.objects.values_list("runbook_count", flat=True)) == [0, 0]
