"""Live shadowing: an alert during a shift reaches the person shadowing, once, with the runbook.

The alert arrives through the receiver, planning and dispatch are the
reminders app's own functions, and the email goes to a real SMTP server on
loopback. The worker and Alertmanager versions are in tests/e2e/test_alerts_alertmanager.py.
"""

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from oncall.alerts.coverage import digest_line
from oncall.alerts.sources import create_source
from oncall.alerts.timeline import pages_seen
from oncall.reminders.dispatch import dispatch_due
from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.runbooks.models import AlertName, Runbook
from oncall.shifts.models import ShadowShift
from tests.test_reminders_peers import smtp_sink_fixture  # noqa: F401 - fixture

URL = "/integrations/alertmanager/"
LIVE = Reminder.Kind.LIVE_PAGE


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "https://oncall.example.com"


@pytest.fixture
def token(team):
    return create_source(team=team, name="prod")[1]


def shift_on(team, trainee, primary, *, kind=ShadowShift.Kind.SHADOW, now=None):
    now = now or timezone.now()
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        kind=kind,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=3),
        time_zone="Asia/Tokyo",
    )


def fire(client, token, name="PaymentsApiHighErrorRate", *, fp="a1b2c3d4e5f60718",
         starts=None, status="firing", ends=None, labels=None, annotations=None):  # fmt: skip
    starts = starts or timezone.now() - timedelta(minutes=5)
    body = {
        "version": "4",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "severity": "critical", **(labels or {})},
                "annotations": annotations
                if annotations is not None
                else {"summary": "5xx above 5%", "description": "Checkout is failing for some."},
                "startsAt": starts.isoformat(),
                "endsAt": (ends or datetime(1, 1, 1)).isoformat() + ("" if ends else "Z"),
                "fingerprint": fp,
            }
        ],
    }
    response = client.post(
        URL, json.dumps(body), content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()


def live_rows():
    return list(Reminder.objects.filter(kind=LIVE).select_related("recipient").order_by("pk"))


def test_the_trainee_on_a_shadow_shift_gets_one_page_with_the_runbook(
    client, token, team, trainee, primary
):
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    AlertName.objects.create(
        runbook=runbook, name="PaymentsApiHighErrorRate", key="paymentsapihigherrorrate"
    )
    shift = shift_on(team, trainee, primary)
    starts = timezone.now() - timedelta(minutes=5)
    fire(client, token, starts=starts)
    plan_reminders()
    fire(client, token, starts=starts)  # Alertmanager repeats the group
    plan_reminders()
    rows = live_rows()
    assert [(r.recipient, r.channel) for r in rows] == [(trainee, "email")]
    page = rows[0]
    assert page.subject == "PaymentsApiHighErrorRate is firing — your primary is on it"
    assert page.link == "https://oncall.example.com/runbooks/payments/errors/"
    assert "5xx above 5%" in page.body
    assert "Checkout is failing for some." in page.body
    assert (
        "Runbook: Payments API errors — https://oncall.example.com/runbooks/payments/errors/"
        in page.body
    )
    assert f"https://oncall.example.com/shifts/{shift.pk}/" in page.body
    assert page.is_urgent
    assert page.due_at <= timezone.now()


def test_a_reverse_shadow_pages_the_trainee_only(client, token, team, trainee, primary):
    # The primary hears of it only if the trainee has not acknowledged it in
    # time: that is the escalation's message, planned apart.
    shift_on(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW)
    fire(client, token, annotations={})
    plan_reminders()
    subjects = {r.recipient.username: r.subject for r in live_rows()}
    assert subjects == {
        "trainee": "PaymentsApiHighErrorRate is firing — you take this one; primary backs you"
    }
    body = live_rows()[0].body
    assert "No runbook answers this alert yet" in body


def test_no_page_without_a_shift_on_for_another_team_or_from_before_the_shift(
    client, token, team, trainee, primary, other_team
):
    now = timezone.now()
    ShadowShift.objects.create(  # tomorrow's shift
        team=team, trainee=trainee, primary=primary,
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=1, hours=8),
    )  # fmt: skip
    fire(client, token, fp="f000000000000001", starts=now - timedelta(hours=2))
    plan_reminders()
    assert live_rows() == []
    shift_on(team, trainee, primary, now=now)  # began an hour ago
    platform_token = create_source(team=other_team, name="prod")[1]
    fire(client, platform_token, fp="f000000000000002")
    fire(client, token, fp="f000000000000003", starts=now - timedelta(hours=3))
    plan_reminders()
    assert live_rows() == []
    fire(client, token, fp="f000000000000004")  # this one is for the trainee
    plan_reminders()
    assert len(live_rows()) == 1


def test_a_page_still_unsent_when_the_shift_ends_is_cancelled(
    client, token, team, trainee, primary
):
    shift_on(team, trainee, primary)
    fire(client, token)
    plan_reminders()
    assert [r.state for r in live_rows()] == ["pending"]
    plan_reminders(now=timezone.now() + timedelta(hours=4))
    assert [r.state for r in live_rows()] == ["cancelled"]


def test_the_page_goes_out_in_quiet_hours_and_alert_text_is_escaped(
    client, token, team, trainee, primary, smtp_sink
):
    local = timezone.now().astimezone(trainee.profile.tz)
    trainee.profile.quiet_start = (
        (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    )
    trainee.profile.quiet_end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    trainee.profile.save()
    assert trainee.profile.quiet_until(timezone.now()) is not None
    shift_on(team, trainee, primary)
    starts = timezone.now() - timedelta(minutes=5)
    summary = {"summary": "<script>alert(1)</script> & <b>bold</b>"}
    fire(client, token, starts=starts, annotations=summary)
    plan_reminders()
    result = dispatch_due()
    assert result.sent == 1
    assert smtp_sink.wait_for(1, 5)
    message = smtp_sink.messages[0]
    assert message["To"] == "trainee@example.com"
    assert message["X-Oncall-Reminder"] == "live_page"
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    text = message.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script> & <b>bold</b>" in text  # plain text: as written
    # Later plan and dispatch rounds send nothing more.
    fire(client, token, starts=starts, annotations=summary)
    plan_reminders()
    assert dispatch_due().sent == 0
    assert len(smtp_sink.messages) == 1


def test_a_storm_during_a_shift_is_capped_per_person(client, token, team, trainee, primary):
    shift_on(team, trainee, primary)
    for i in range(25):
        fire(client, token, f"Storm{i}", fp=f"{i:016x}")
    plan_reminders()
    assert len(live_rows()) == 20


def test_the_shift_page_shows_the_alerts_live_and_escaped(
    client_for, token, team, trainee, primary, django_assert_max_num_queries
):
    shift = shift_on(team, trainee, primary)
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    AlertName.objects.create(
        runbook=runbook, name="PaymentsApiHighErrorRate", key="paymentsapihigherrorrate"
    )
    client = client_for(trainee)
    starts = timezone.now() - timedelta(minutes=5)
    fire(client, token, starts=starts)
    for i in range(30):
        fire(client, token, f"Other{i}", fp=f"{i:016x}",
             annotations={"summary": "<img src=x onerror=alert(1)>"})  # fmt: skip
    resolved_at = timezone.now() - timedelta(minutes=1)
    fire(client, token, "DiskFilling", fp="d000000000000001",
         starts=resolved_at - timedelta(minutes=30), status="resolved", ends=resolved_at)  # fmt: skip
    with django_assert_max_num_queries(20):
        page = client.get(f"/shifts/{shift.pk}/").content.decode()
    assert "Alerts during this shift" in page
    # Times in the viewer's zone (Tokyo), with the weekday when the shift spans two days there.
    tokyo = ZoneInfo("Asia/Tokyo")
    two_days = shift.starts_at.astimezone(tokyo).date() != shift.ends_at.astimezone(tokyo).date()
    label = f"{starts.astimezone(tokyo):{'%a %H:%M' if two_days else '%H:%M'}}"
    assert f">{label}</time> <strong>PaymentsApiHighErrorRate</strong>" in " ".join(page.split())
    assert f'hx-get="/shifts/{shift.pk}/alerts/"' in page
    assert 'href="/runbooks/payments/errors/"' in page
    assert "no runbook" in page
    assert "lasted 30 min" in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # htmx asks for the card alone; a plain browser is sent to the page.
    partial = client.get(f"/shifts/{shift.pk}/alerts/", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert partial.content.decode().startswith('<section id="shift-alerts"')
    plain = client.get(f"/shifts/{shift.pk}/alerts/")
    assert plain.status_code == 302
    assert plain["Location"] == f"/shifts/{shift.pk}/#shift-alerts"


def test_the_timeline_is_not_shown_to_outsiders(client_for, team, trainee, primary, outsider):
    shift = shift_on(team, trainee, primary)
    response = client_for(outsider).get(
        f"/shifts/{shift.pk}/alerts/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 404


def test_a_shift_that_ended_shows_its_alerts_without_polling(
    client_for, token, team, trainee, primary
):
    now = timezone.now()
    shift = ShadowShift.objects.create(
        team=team, trainee=trainee, primary=primary,
        starts_at=now - timedelta(hours=9), ends_at=now - timedelta(hours=1),
    )  # fmt: skip
    client = client_for(trainee)
    fire(client, token, starts=now - timedelta(hours=5))
    page = client.get(f"/shifts/{shift.pk}/").content.decode()
    assert "PaymentsApiHighErrorRate" in page
    assert "hx-trigger" not in page.split('id="shift-alerts"')[1].split(">")[0]


def test_the_debrief_starts_from_the_timeline_and_stays_editable(
    client_for, token, team, trainee, primary
):
    shift = shift_on(team, trainee, primary)
    client = client_for(trainee)
    starts = timezone.now() - timedelta(minutes=5)
    fire(client, token, starts=starts)
    local = starts.astimezone(ZoneInfo(shift.time_zone))  # the debrief speaks the shift's time
    expected = f"{local:%H:%M} PaymentsApiHighErrorRate (still firing; no runbook)"
    assert pages_seen(shift) == expected
    page = client.get(f"/shifts/{shift.pk}/").content.decode()
    assert expected in page.split('name="pages_seen"')[1].split("</textarea>")[0]
    # The trainee's own words win once saved.
    response = client.post(f"/shifts/{shift.pk}/debrief/", {"pages_seen": "Only the one page."})
    assert response.status_code == 302
    page = client.get(f"/shifts/{shift.pk}/").content.decode()
    assert "Only the one page." in page
    assert expected not in page.split('name="pages_seen"')[1].split("</textarea>")[0]


def test_the_weekly_digest_line_counts_alerts_without_a_runbook(client, token, team):
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    AlertName.objects.create(runbook=runbook, name="Covered", key="covered")
    now = timezone.now()
    fire(client, token, "Covered", fp="f000000000000001")
    fire(client, token, "NoRunbookA", fp="f000000000000002")
    fire(client, token, "NoRunbookB", fp="f000000000000003")
    fire(client, token, "NoRunbookB", fp="f000000000000003", starts=now - timedelta(hours=3))
    fire(client, token, "LongAgo", fp="f000000000000004", starts=now - timedelta(days=9))
    line = digest_line(team=team, now=now)
    assert line.startswith("2 alerts fired this week with no runbook: NoRunbook")
    assert "NoRunbookA" in line and "NoRunbookB" in line and "LongAgo" not in line
    assert line.endswith("See https://oncall.example.com/teams/payments/coverage/")


def test_the_lead_digest_carries_the_line(client, token, team, lead):
    now = timezone.now()
    today = now.astimezone(team.tz).date()
    plan_at = datetime.combine(today - timedelta(days=today.weekday()), time(9, 30), tzinfo=team.tz)
    if plan_at > now:
        plan_at -= timedelta(days=7)
    fire(client, token, "NoRunbookA", starts=plan_at - timedelta(hours=1))
    plan_reminders(now=plan_at)
    digest = Reminder.objects.get(kind=Reminder.Kind.WEEKLY_DIGEST, recipient=lead)
    assert "1 alert fired this week with no runbook: NoRunbookA." in digest.body


def test_seed_demo_puts_the_trainee_on_a_shadow_shift_now_once(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    now = timezone.now()
    on_now = ShadowShift.objects.filter(
        trainee__username="trainee", starts_at__lte=now, ends_at__gt=now
    ).exclude(state=ShadowShift.State.CANCELLED)
    assert on_now.count() == 1
    shift = on_now.get()
    assert shift.kind == ShadowShift.Kind.SHADOW
    assert shift.primary.username == "primary"
    others = ShadowShift.objects.exclude(pk=shift.pk).filter(trainee=shift.trainee)
    assert not others.filter(starts_at__lt=shift.ends_at, ends_at__gt=shift.starts_at).exists()
