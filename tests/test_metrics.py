"""GET /metrics: the app's own health in Prometheus text format.

In-process here; tests/test_metrics_gunicorn.py runs gunicorn with two workers.
The output is read back with prometheus_client's own parser.
"""

import math
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from oncall.alerts.models import AlertOccurrence
from oncall.metrics.collector import lateness_histogram
from oncall.reminders.models import Reminder
from oncall.runbooks.models import SyncRun
from oncall.teams.models import Heartbeat
from tests.conftest import ROOT
from tests.test_readiness_support import make_runbook

TOKEN = "s3cret-metrics-token-for-tests"
State = Reminder.State


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.METRICS_TOKEN = TOKEN
    settings.RUNBOOKS_DIR = "/srv/runbooks"


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


# --- who may read it -------------------------------------------------------------


def test_it_is_404_when_no_token_is_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer"],
)
def test_it_refuses_a_missing_or_wrong_token_with_401(client, db, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"oncall_" not in response.content


def test_it_needs_no_session_and_refuses_post(client, db):
    assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


def test_it_fails_start_up_on_a_short_token():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "METRICS_TOKEN": "short"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "METRICS_TOKEN is too short" in done.stderr


# --- what it says ----------------------------------------------------------------


def reminder(user, key, *, state=State.PENDING, kind=Reminder.Kind.TEST, due, sent=None, **kw):
    return Reminder.objects.create(
        recipient=user,
        kind=kind,
        channel="email",
        due_at=due,
        next_attempt_at=due,
        dedupe_key=key,
        subject=key,
        state=state,
        sent_at=sent,
        **kw,
    )


def test_it_counts_reminders_by_state_and_kind_and_times_the_oldest_due(client, trainee):
    now = timezone.now()
    reminder(trainee, "a", due=now - timedelta(minutes=7))
    reminder(trainee, "b", due=now - timedelta(minutes=1), kind=Reminder.Kind.DEBRIEF_DUE)
    reminder(trainee, "c", due=now + timedelta(hours=3))  # not due yet: not waiting
    reminder(trainee, "d", due=now - timedelta(hours=2), state=State.FAILED, updated_at=now)
    reminder(
        trainee,
        "e",
        due=now - timedelta(days=1),
        state=State.FAILED,
        updated_at=now - timedelta(hours=5),
    )

    samples = scrape(client)

    assert value(samples, "oncall_reminders", state="pending", kind="test") == 2
    assert value(samples, "oncall_reminders", state="pending", kind="debrief_due") == 1
    assert value(samples, "oncall_reminders", state="failed", kind="test") == 2
    assert value(samples, "oncall_reminders", state="sent", kind="weekly_digest") == 0
    assert 7 * 60 <= value(samples, "oncall_reminders_oldest_due_age_seconds") < 8 * 60
    assert value(samples, "oncall_reminders_failed_last_hour", kind="test") == 1
    assert value(samples, "oncall_metrics_database_up") == 1


def test_it_reports_zero_waiting_when_nothing_is_due(client, db):
    assert value(scrape(client), "oncall_reminders_oldest_due_age_seconds") == 0


def test_it_histograms_how_late_dispatch_sent_each_reminder(client, trainee):
    now = timezone.now()
    for n, late in enumerate([2, 10, 40, 40, 700]):
        due = now - timedelta(hours=1)
        reminder(trainee, f"s{n}", due=due, state=State.SENT, sent=due + timedelta(seconds=late))
    reminder(trainee, "p", due=now)  # pending rows are not in it

    samples = scrape(client)

    def bucket(le):
        return value(samples, "oncall_reminders_dispatch_lateness_seconds_bucket", le=le)

    assert [bucket("5.0"), bucket("15.0"), bucket("30.0"), bucket("60.0")] == [1, 2, 2, 4]
    assert bucket("600.0") == 4 and bucket("1800.0") == 5 and bucket("+Inf") == 5
    assert value(samples, "oncall_reminders_dispatch_lateness_seconds_count") == 5
    assert value(samples, "oncall_reminders_dispatch_lateness_seconds_sum") == pytest.approx(792)


def test_it_adds_reminders_sent_since_the_last_scrape_to_a_running_tally(trainee):
    start = timezone.now() - timedelta(hours=1)

    def sent(key, late, at):
        return reminder(trainee, key, due=at - timedelta(seconds=late), state=State.SENT, sent=at)

    def histogram(now):
        family = lateness_histogram(now)
        samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
        name = "oncall_reminders_dispatch_lateness_seconds"
        return (
            samples[(f"{name}_bucket", "15.0")],
            samples[(f"{name}_count", None)],
            pytest.approx(samples[(f"{name}_sum", None)]),
        )

    first = sent("one", 10, at=start)
    sent("two", 100, at=start)
    assert histogram(start + timedelta(minutes=5)) == (1, 2, 110)
    sent("three", 3, at=start + timedelta(minutes=6))
    sent("settling", 4, at=start + timedelta(minutes=9, seconds=30))  # under a minute ago
    assert histogram(start + timedelta(minutes=10)) == (2, 3, 113)
    # Counts never go down, even when old reminders are deleted.
    first.delete()
    assert histogram(start + timedelta(minutes=11)) == (3, 4, 117)  # with "settling"
    # From scratch (an emptied cache) it counts what is there.
    cache.clear()
    assert histogram(start + timedelta(minutes=12)) == (2, 3, 107)


def test_it_reports_each_folders_last_sync_and_its_bad_files(client, db):
    now = timezone.now()
    SyncRun.objects.create(
        folders=["/srv/a"],
        state=SyncRun.State.DONE,
        summary="created 3, updated 0, unchanged 0, archived 0, failed 0",
        finished_at=now - timedelta(hours=3),
    )
    SyncRun.objects.create(
        folders=["/srv/a", "/srv/b"],
        state=SyncRun.State.FAILED,
        summary="created 0, updated 1, unchanged 9, archived 0, failed 2",
        log="x.md: bad YAML\ny.md: not UTF-8\nwarning: alert A is answered by several runbooks",
        finished_at=now - timedelta(hours=1),
    )
    SyncRun.objects.create(  # the default folder, RUNBOOKS_DIR
        folders=[], state=SyncRun.State.DONE, summary="failed 0", finished_at=now
    )
    SyncRun.objects.create(folders=["/srv/a"], state=SyncRun.State.RUNNING)
    SyncRun.objects.filter(state=SyncRun.State.RUNNING).update(
        created_at=now - timedelta(minutes=20)
    )

    samples = scrape(client)

    finished = "oncall_runbook_sync_last_finished_timestamp_seconds"
    success = "oncall_runbook_sync_last_success_timestamp_seconds"
    bad = "oncall_runbook_sync_bad_files"
    hour_ago = (now - timedelta(hours=1)).timestamp()
    assert value(samples, finished, folder="/srv/a") == pytest.approx(hour_ago)
    assert value(samples, success, folder="/srv/a") == pytest.approx(hour_ago - 7200)
    assert value(samples, bad, folder="/srv/a") == 2
    assert value(samples, bad, folder="/srv/b") == 2
    assert ("oncall_runbook_sync_last_success_timestamp_seconds", (("folder", "/srv/b"),)) not in (
        samples
    )
    assert value(samples, bad, folder="/srv/runbooks") == 0
    assert value(samples, success, folder="/srv/runbooks") == pytest.approx(now.timestamp())
    assert 20 * 60 <= value(samples, "oncall_runbook_sync_oldest_unfinished_age_seconds") < 21 * 60


def test_it_reports_beats_heartbeat_age_and_infinity_before_the_first(client, db):
    assert math.isinf(value(scrape(client), "oncall_beat_heartbeat_age_seconds"))
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(seconds=90))
    assert 90 <= value(scrape(client), "oncall_beat_heartbeat_age_seconds") < 100


def test_it_counts_requests_by_view_method_and_status(client_for, trainee):
    client = client_for(trainee)
    before = scrape(client)

    def count(samples, **labels):
        return samples.get(("oncall_http_requests_total", tuple(sorted(labels.items()))), 0)

    client.get("/profile/")
    client.get("/profile/")
    client.get("/no/such/page/")
    client.get("/shifts/feed/secret-token-1234567890.ics")
    after = scrape(client)

    assert (
        count(after, view="profile", method="GET", status="200")
        - count(before, view="profile", method="GET", status="200")
        == 2
    )
    assert count(after, view="unmatched", method="GET", status="404") >= 1
    assert count(after, view="shifts:feed", method="GET", status="404") >= 1
    # Labels are view names: no path, so no token, ever reaches the metrics.
    assert not any("secret-token" in str(key) for key in after)
    latency = ("oncall_http_request_duration_seconds_count", (("view", "profile"),))
    assert after[latency] >= 2


def test_it_reads_the_database_in_a_fixed_number_of_queries(
    client, trainee, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(30):
        reminder(trainee, f"r{n}", due=now - timedelta(minutes=n), state=State.SENT, sent=now)
        SyncRun.objects.create(
            folders=[f"/srv/folder-{n}"], state=SyncRun.State.DONE, finished_at=now
        )
    with django_assert_max_num_queries(7):
        samples = scrape(client)
    assert value(samples, "oncall_runbook_sync_bad_files", folder="/srv/folder-29") == 0


def test_it_counts_what_the_alert_receiver_took_in(client, team):
    now = timezone.now()

    def occurrence(fp, status, *, runbook=False, received=now, deliveries=1):
        return AlertOccurrence.objects.create(
            fingerprint=fp,
            starts_at=received,
            status=status,
            team=team,
            alertname="PaymentsApiHighErrorRate",
            alert_key="paymentsapihigherrorrate",
            runbook=make_runbook(team, slug=f"rb-{fp}") if runbook else None,
            received_at=received,
            last_seen_at=received,
            deliveries=deliveries,
        )

    occurrence("a", "firing", runbook=True, deliveries=3)
    occurrence("b", "firing")
    occurrence("c", "resolved", received=now - timedelta(hours=3))

    samples = scrape(client)

    assert value(samples, "oncall_alert_occurrences", status="firing", runbook="yes") == 1
    assert value(samples, "oncall_alert_occurrences", status="firing", runbook="no") == 1
    assert value(samples, "oncall_alert_occurrences", status="resolved", runbook="no") == 1
    assert value(samples, "oncall_alert_occurrences_new_last_hour") == 2
    assert value(samples, "oncall_alert_deliveries_last_hour") == 4
