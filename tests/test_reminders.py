"""Reminders: planning from state, dispatch through a real SMTP server and HTTP receiver.

Time is passed in (``now=``) so a 24-hour lead can be walked through in a
test; the peers are real servers on loopback. The fault tests with a real
Celery worker, Redis and kill -9 are in test_reminders_faults.py.
"""

import socket
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from oncall.celery import app as celery_app
from oncall.readiness.models import ItemProgress, Onboarding
from oncall.readiness.reconcile import reconcile
from oncall.reminders import channels
from oncall.reminders.dispatch import SWEEP_AFTER, claim, deliver, dispatch_due
from oncall.reminders.models import MAX_ATTEMPTS, Reminder
from oncall.reminders.plan import plan_reminders
from oncall.runbooks.models import Revision, Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.test_reminders_peers import (  # noqa: F401 - fixtures
    smtp_sink_fixture,
    webhook_receiver_fixture,
)

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
State = Reminder.State
ONBOARDING_KINDS = [Reminder.Kind.ITEM_OVERDUE, Reminder.Kind.ONBOARDING_STALLED]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The shared user fixtures hash a password each; these tests never sign in with one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def at(text: str, tz=UTC) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def make_shift(team, trainee, primary, starts_at, *, hours=8, set_at=None, tz="Asia/Tokyo"):
    set_at = set_at or starts_at - timedelta(days=3)
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        time_zone=tz,
        created_at=set_at,
        updated_at=set_at,
    )


def rows(**filters):
    return list(Reminder.objects.filter(**filters).order_by("due_at", "recipient__username"))


@pytest.fixture
def shift(team, trainee, primary):
    # Tuesday 10 March 2026, 10:00 in Tokyo.
    return make_shift(team, trainee, primary, at("2026-03-10 10:00", TOKYO))


# --- planning ----------------------------------------------------------------


def test_it_sends_one_email_per_lead_time_to_trainee_and_primary(shift, smtp_sink):
    created = shift.created_at
    plan_reminders(now=created)
    planned = rows(kind=Reminder.Kind.SHIFT_UPCOMING)
    assert [(r.recipient.username, r.due_at) for r in planned] == [
        ("primary", at("2026-03-09 10:00", TOKYO)),
        ("trainee", at("2026-03-09 10:00", TOKYO)),
        ("primary", at("2026-03-10 09:00", TOKYO)),
        ("trainee", at("2026-03-10 09:00", TOKYO)),
    ]

    # Walk the clock: plan every minute is idempotent, dispatch sends what is due.
    for moment in [
        created + timedelta(hours=1),
        at("2026-03-09 09:59", TOKYO),
        at("2026-03-09 10:00", TOKYO),
        at("2026-03-09 10:01", TOKYO),
        at("2026-03-10 09:00", TOKYO),
        at("2026-03-10 09:30", TOKYO),
    ]:
        plan_reminders(now=moment)
        dispatch_due(now=moment)

    assert len(smtp_sink.messages) == 4
    assert len(set(smtp_sink.message_ids())) == 4
    by_person = sorted(smtp_sink.subjects())
    assert by_person == [
        (
            "primary@example.com",
            "Shadow shift with trainee (you are primary) in 1 hour (Tue 10 Mar 10:00 JST)",
        ),
        (
            "primary@example.com",
            "Shadow shift with trainee (you are primary) in 24 hours (Tue 10 Mar 10:00 JST)",
        ),
        ("trainee@example.com", "Shadow shift with primary in 1 hour (Tue 10 Mar 10:00 JST)"),
        ("trainee@example.com", "Shadow shift with primary in 24 hours (Tue 10 Mar 10:00 JST)"),
    ]
    assert {r.state for r in rows(kind=Reminder.Kind.SHIFT_UPCOMING)} == {State.SENT}


def test_it_writes_an_email_with_text_html_link_and_a_stable_message_id(shift, smtp_sink):
    plan_reminders(now=shift.created_at)
    dispatch_due(now=at("2026-03-09 10:00", TOKYO))
    reminder = Reminder.objects.filter(recipient__username="trainee", state=State.SENT).get()
    message = next(m for m in smtp_sink.messages if m["To"] == "trainee@example.com")

    assert message["Message-ID"] == reminder.message_id
    assert reminder.message_id.startswith("<") and reminder.message_id.endswith("@oncall>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = f"http://127.0.0.1:8000/shifts/{shift.pk}/"
    assert reminder.link == link
    assert link in text and f'href="{link}"' in html
    assert "Starts: Tue 10 Mar 10:00 JST" in text


def test_it_replans_a_moved_shift_and_cancels_the_old_reminders(shift, trainee):
    plan_reminders(now=shift.created_at)
    old_keys = set(Reminder.objects.values_list("dedupe_key", flat=True))

    moved_at = shift.created_at + timedelta(hours=1)
    shift.updated_at = moved_at  # as ShadowShift.reschedule would, an hour later
    shift.starts_at += timedelta(hours=3)
    shift.ends_at += timedelta(hours=3)
    shift.save()
    plan_reminders(now=moved_at)

    assert (
        set(Reminder.objects.filter(state=State.CANCELLED).values_list("dedupe_key", flat=True))
        == old_keys
    )
    pending = rows(state=State.PENDING, recipient=trainee)
    assert [r.due_at for r in pending] == [
        at("2026-03-09 13:00", TOKYO),
        at("2026-03-10 12:00", TOKYO),
    ]
    assert "13:00 JST" in pending[0].subject


def test_it_cancels_pending_reminders_of_a_cancelled_shift_but_keeps_sent_ones(shift, smtp_sink):
    plan_reminders(now=shift.created_at)
    dispatch_due(now=at("2026-03-09 10:00", TOKYO))
    shift.cancel()
    plan_reminders(now=at("2026-03-09 12:00", TOKYO))

    states = sorted(Reminder.objects.values_list("state", flat=True))
    assert states == [State.CANCELLED, State.CANCELLED, State.SENT, State.SENT]


def test_it_never_resets_a_sent_reminder_when_replanning(shift, smtp_sink):
    plan_reminders(now=shift.created_at)
    dispatch_due(now=at("2026-03-09 10:00", TOKYO))
    sent = {r.pk: r.sent_at for r in rows(state=State.SENT)}
    for _ in range(3):
        result = plan_reminders(now=at("2026-03-09 10:05", TOKYO))
        assert (result.created, result.revived, result.cancelled) == (0, 0, 0)
    assert {r.pk: r.sent_at for r in rows(state=State.SENT)} == sent
    assert len(smtp_sink.messages) == 2


def test_it_revives_the_reminder_of_a_shift_moved_back(shift):
    plan_reminders(now=shift.created_at)
    original = shift.starts_at
    shift.starts_at = original + timedelta(hours=1)
    shift.ends_at += timedelta(hours=1)
    shift.save()
    plan_reminders(now=shift.created_at + timedelta(minutes=1))
    shift.starts_at = original
    shift.ends_at -= timedelta(hours=1)
    shift.save()
    result = plan_reminders(now=shift.created_at + timedelta(minutes=2))

    assert result.revived == 4
    assert Reminder.objects.filter(state=State.PENDING).count() == 4
    assert Reminder.objects.count() == 8


def test_it_sends_one_reminder_at_once_for_a_shift_set_at_short_notice(team, trainee, primary):
    now = at("2026-03-10 09:30", TOKYO)
    make_shift(team, trainee, primary, at("2026-03-10 10:00", TOKYO), set_at=now)
    plan_reminders(now=now)
    planned = rows(recipient=trainee)
    assert len(planned) == 1
    assert planned[0].due_at == at("2026-03-10 09:00", TOKYO)
    assert "in 30 minutes" in planned[0].subject


def test_it_skips_lead_times_already_gone_when_a_later_one_is_ahead(team, trainee, primary):
    now = at("2026-03-09 12:00", TOKYO)
    make_shift(team, trainee, primary, at("2026-03-10 10:00", TOKYO), set_at=now)
    plan_reminders(now=now)
    assert [r.due_at for r in rows(recipient=trainee)] == [at("2026-03-10 09:00", TOKYO)]


def test_it_still_sends_a_lead_time_that_fell_due_while_nothing_ran(shift, smtp_sink):
    plan_reminders(now=shift.created_at)
    # The 24 h reminder fell due an hour ago, while workers (or Redis) were away.
    late = at("2026-03-09 11:00", TOKYO)
    plan_reminders(now=late)
    dispatch_due(now=late)
    assert sorted(m["To"] for m in smtp_sink.messages) == [
        "primary@example.com",
        "trainee@example.com",
    ]


def test_it_uses_each_persons_lead_times_and_channels(shift, trainee, primary):
    trainee.profile.lead_times = [30]
    trainee.profile.save()
    primary.profile.email_enabled = False
    primary.profile.webhook_enabled = True
    primary.profile.webhook_url = "https://hooks.example.com/x"
    primary.profile.save()
    plan_reminders(now=shift.created_at)
    assert [(r.recipient.username, r.channel, r.due_at) for r in rows()] == [
        ("primary", "webhook", at("2026-03-09 10:00", TOKYO)),
        ("primary", "webhook", at("2026-03-10 09:00", TOKYO)),
        ("trainee", "email", at("2026-03-10 09:30", TOKYO)),
    ]


def test_it_counts_a_24_hour_lead_on_the_wall_clock_across_dst(team, trainee, primary):
    # Clocks in New York go forward at 02:00 on Sunday 8 March 2026.
    trainee.profile.time_zone = "America/New_York"
    trainee.profile.save()
    monday = make_shift(
        team, trainee, primary, at("2026-03-09 09:00", NEW_YORK), tz="America/New_York"
    )
    sunday = make_shift(
        team, trainee, primary, at("2026-03-08 09:00", NEW_YORK), tz="America/New_York"
    )
    plan_reminders(now=at("2026-03-01 12:00"))

    def due_24h(shift):
        reminder = Reminder.objects.get(
            recipient=trainee, dedupe_key__contains=f"{shift.uid}", payload__lead_minutes=1440
        )
        return reminder.due_at.astimezone(NEW_YORK)

    assert due_24h(monday) == at("2026-03-08 09:00", NEW_YORK)
    assert due_24h(monday).utcoffset() == timedelta(hours=-4)
    # The day before a Sunday-morning shift is still winter time: 09:00 EST,
    # which is 23 hours, not 24, before the shift.
    assert due_24h(sunday) == at("2026-03-07 09:00", NEW_YORK)
    assert sunday.starts_at.astimezone(UTC) - due_24h(sunday).astimezone(UTC) == timedelta(hours=23)
    subject = Reminder.objects.get(
        recipient=trainee, dedupe_key__contains=f"{monday.uid}", payload__lead_minutes=60
    ).subject
    assert "(Mon 9 Mar 09:00 EDT)" in subject


def test_it_plans_a_debrief_reminder_two_hours_after_a_shift_without_one(shift, trainee):
    ended = shift.ends_at
    plan_reminders(now=ended + timedelta(hours=1))
    assert not Reminder.objects.filter(kind=Reminder.Kind.DEBRIEF_DUE).exists()
    plan_reminders(now=ended + timedelta(hours=2))
    debrief = Reminder.objects.get(kind=Reminder.Kind.DEBRIEF_DUE)
    assert (debrief.recipient, debrief.due_at) == (trainee, ended + timedelta(hours=2))

    shift.debriefed_at = ended + timedelta(hours=2, minutes=1)
    shift.save()
    plan_reminders(now=ended + timedelta(hours=2, minutes=2))
    debrief.refresh_from_db()
    assert debrief.state == State.CANCELLED


def test_it_reminds_a_runbook_owner_when_review_is_due(team, lead):
    runbook = Runbook.objects.create(
        slug="payments/db",
        title="Payments DB",
        team=team,
        owner="lead",
        review_every=90,
        last_reviewed=date(2026, 1, 1),
    )
    plan_reminders(now=at("2026-03-31 12:00"))
    assert not Reminder.objects.filter(kind=Reminder.Kind.REVIEW_DUE).exists()
    plan_reminders(now=at("2026-04-01 12:00"))
    reminder = Reminder.objects.get(kind=Reminder.Kind.REVIEW_DUE)
    assert reminder.recipient == lead
    assert reminder.due_at == datetime.combine(date(2026, 4, 1), time(9), TOKYO)
    assert runbook.title in reminder.subject

    runbook.last_reviewed = date(2026, 4, 1)
    runbook.save()
    plan_reminders(now=at("2026-04-01 13:00"))
    reminder.refresh_from_db()
    assert reminder.state == State.CANCELLED


@pytest.fixture
def onboarding(team, trainee, lead):
    return Onboarding.objects.create(
        engineer=trainee,
        team=team,
        lead=lead,
        target_date=date(2026, 3, 1),
        last_activity_at=at("2026-02-20 10:00"),
    )


def test_it_plans_overdue_and_stalled_reminders_for_engineer_and_lead(onboarding):
    ItemProgress.objects.create(onboarding=onboarding, section="Access", title="VPN", required=True)
    reconcile(onboarding)
    plan_reminders(now=at("2026-03-02 01:00"))
    kinds = sorted((r.kind, r.recipient.username) for r in rows(kind__in=ONBOARDING_KINDS))
    assert kinds == [
        ("item_overdue", "lead"),
        ("item_overdue", "trainee"),
        ("onboarding_stalled", "lead"),
        ("onboarding_stalled", "trainee"),
    ]
    overdue = Reminder.objects.filter(kind="item_overdue").first()
    assert overdue.due_at == at("2026-03-02 09:00", TOKYO)
    assert "1 item left" in overdue.subject

    # Progress: the item is done and someone acted. Nothing is wanted any more.
    item = onboarding.items.get()
    item.tick(by=onboarding.engineer)
    onboarding.log("tick", actor=onboarding.engineer, item=item, at=at("2026-03-02 01:30"))
    reconcile(onboarding)
    plan_reminders(now=at("2026-03-02 01:31"))
    assert {r.state for r in rows(kind__in=ONBOARDING_KINDS)} == {State.CANCELLED}


def test_it_asks_for_a_reread_once_per_new_revision(onboarding, team):
    runbook = Runbook.objects.create(slug="payments/psp", title="PSP timeouts", team=team)
    first = Revision.objects.create(
        runbook=runbook, number=1, content_hash="a", markdown="", html=""
    )
    runbook.current_revision = first
    runbook.save()
    item = ItemProgress.objects.create(
        onboarding=onboarding,
        section="Runbooks",
        title="Read PSP timeouts",
        kind=ItemProgress.Kind.READ_RUNBOOK,
        runbook=runbook,
    )
    item.mark_read(revision=first, by=onboarding.engineer)
    now = timezone.now()
    plan_reminders(now=now)
    assert not Reminder.objects.filter(kind="reread_needed").exists()

    second = Revision.objects.create(
        runbook=runbook, number=2, content_hash="b", markdown="", html=""
    )
    runbook.current_revision = second
    runbook.save()
    plan_reminders(now=now)
    plan_reminders(now=now)
    reread = Reminder.objects.get(kind="reread_needed")
    assert reread.recipient == onboarding.engineer
    assert "changed since you read it" in reread.subject
    assert reread.payload["revision"] == 2


def test_it_plans_the_weekly_digest_for_leads_monday_at_nine_team_time(team, lead, trainee):
    Onboarding.objects.create(engineer=trainee, team=team, lead=lead)
    plan_reminders(now=at("2026-03-08 20:00", TOKYO))  # a Sunday evening
    assert not Reminder.objects.filter(kind="weekly_digest").exists()
    plan_reminders(now=at("2026-03-09 00:30", TOKYO))  # Monday, just after midnight
    digest = Reminder.objects.get(kind="weekly_digest")
    assert digest.recipient == lead
    assert digest.due_at == at("2026-03-09 09:00", TOKYO)
    assert digest.subject == "Payments this week: 0 ready, 1 onboarding, 0 shifts"
    assert "trainee: 0 of 0 required items (100%), in progress" in digest.body


def test_it_defers_a_digest_in_quiet_hours_until_they_end(team, lead, smtp_sink):
    lead.profile.quiet_start = time(8, 0)
    lead.profile.quiet_end = time(10, 30)
    lead.profile.save()
    plan_reminders(now=at("2026-03-09 08:00", TOKYO))

    result = dispatch_due(now=at("2026-03-09 09:00", TOKYO))
    digest = Reminder.objects.get(kind="weekly_digest")
    assert (result.deferred, result.sent) == (1, 0)
    assert (digest.state, digest.attempts) == (State.PENDING, 0)
    assert digest.next_attempt_at == at("2026-03-09 10:30", TOKYO)

    assert dispatch_due(now=at("2026-03-09 10:29", TOKYO)).claimed == 0
    assert dispatch_due(now=at("2026-03-09 10:30", TOKYO)).sent == 1
    assert [subject for _to, subject in smtp_sink.subjects()] == [digest.subject]


def test_it_sends_shift_reminders_even_in_quiet_hours(shift, trainee, smtp_sink):
    trainee.profile.quiet_start = time(22, 0)
    trainee.profile.quiet_end = time(11, 0)
    trainee.profile.save()
    plan_reminders(now=shift.created_at)
    result = dispatch_due(now=at("2026-03-09 10:00", TOKYO))
    assert (result.sent, result.deferred) == (2, 0)


def test_it_cancels_reminders_for_a_channel_switched_off(shift, trainee):
    plan_reminders(now=shift.created_at)
    trainee.profile.email_enabled = False
    trainee.profile.save()
    plan_reminders(now=shift.created_at + timedelta(minutes=1))
    assert {r.state for r in rows(recipient=trainee)} == {State.CANCELLED}


def test_it_plans_with_a_bounded_number_of_queries(
    team, trainee, primary, django_user_model, django_assert_max_num_queries
):
    start = at("2026-03-10 10:00", TOKYO)
    for day in range(10):
        make_shift(team, trainee, primary, start + timedelta(days=day))
    with django_assert_max_num_queries(25):
        plan_reminders(now=start - timedelta(days=3))
    assert Reminder.objects.count() == 40
    with django_assert_max_num_queries(25):
        plan_reminders(now=start - timedelta(days=3))


# --- dispatch ------------------------------------------------------------------


def make_reminder(user, *, channel="email", due=None, kind=Reminder.Kind.TEST, key=None):
    due = due or timezone.now()
    return Reminder.objects.create(
        recipient=user,
        kind=kind,
        channel=channel,
        due_at=due,
        next_attempt_at=due,
        dedupe_key=key or f"test:{channel}:{user.pk}:{due.isoformat()}",
        subject="Test reminder",
        body="Body",
        link="http://127.0.0.1:8000/reminders/",
        payload={"kind": kind},
    )


def test_it_retries_a_webhook_answering_500_twice_then_delivers_it_once(trainee, webhook_receiver):
    trainee.profile.webhook_enabled = True
    trainee.profile.webhook_url = webhook_receiver.url
    trainee.profile.save()
    reminder = make_reminder(trainee, channel="webhook")
    webhook_receiver.statuses = [500, 500]

    now = timezone.now()
    assert dispatch_due(now=now).retrying == 1
    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts, reminder.last_error) == (
        State.PENDING,
        1,
        "HTTP 500: ok",
    )
    assert reminder.next_attempt_at == now + timedelta(seconds=30)
    assert dispatch_due(now=now + timedelta(seconds=29)).claimed == 0
    assert dispatch_due(now=now + timedelta(seconds=30)).retrying == 1
    reminder.refresh_from_db()
    assert reminder.next_attempt_at == now + timedelta(seconds=30) + timedelta(minutes=2)
    assert dispatch_due(now=reminder.next_attempt_at).sent == 1

    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts, reminder.last_error) == (State.SENT, 3, "")
    assert [r["status"] for r in webhook_receiver.requests] == [500, 500, 200]
    keys = {r["headers"]["Idempotency-Key"] for r in webhook_receiver.requests}
    assert keys == {reminder.message_token}
    body = webhook_receiver.requests[-1]["json"]
    assert body["text"].startswith("*Test reminder*")
    assert "<http://127.0.0.1:8000/reminders/|Open in oncall>" in body["text"]
    assert (body["kind"], body["recipient"], body["id"]) == (
        "test",
        "trainee",
        reminder.message_token,
    )
    assert webhook_receiver.requests[-1]["path"] == "/hooks/oncall"


def test_it_fails_a_webhook_answering_400_at_once(trainee, webhook_receiver, client_for):
    trainee.profile.webhook_enabled = True
    trainee.profile.webhook_url = webhook_receiver.url
    trainee.profile.save()
    reminder = make_reminder(trainee, channel="webhook")
    webhook_receiver.statuses = [400]

    assert dispatch_due().failed == 1
    assert dispatch_due(now=timezone.now() + timedelta(days=1)).claimed == 0
    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts) == (State.FAILED, 1)
    assert reminder.last_error == "HTTP 400: bad request"
    assert len(webhook_receiver.requests) == 1
    page = client_for(trainee).get("/reminders/").content.decode()
    assert "Not delivered after 1 attempt: HTTP 400: bad request" in page


def test_it_refuses_webhooks_to_private_addresses_unless_allowed(
    trainee, webhook_receiver, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    trainee.profile.webhook_enabled = True
    trainee.profile.webhook_url = webhook_receiver.url
    trainee.profile.save()
    reminder = make_reminder(trainee, channel="webhook")

    assert dispatch_due().failed == 1
    reminder.refresh_from_db()
    assert "127.0.0.1" in reminder.last_error and "not allowed" in reminder.last_error
    assert webhook_receiver.requests == []
    for url in [
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:192.168.1.1]/",
        "http://localhost/hook",
        # IPv6 forms that carry an IPv4 address: NAT64, 6to4, IPv4-compatible,
        # SIIT, Teredo.
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
        "http://[::127.0.0.1]/",
        "http://[::ffff:0:7f00:1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "ftp://example.com/hook",
        "http:///nohost",
    ]:
        with pytest.raises(channels.PermanentError):
            channels.resolve_webhook(url)
    host, port, ip, path = channels.resolve_webhook("https://93.184.215.14/hook?x=1")
    assert (host, port, ip, path) == ("93.184.215.14", 443, "93.184.215.14", "/hook?x=1")


def test_it_retries_an_smtp_4xx_and_fails_a_refused_address_at_once(trainee, primary, smtp_sink):
    primary.email = "gone@example.com"
    primary.save()
    smtp_sink.refuse = {"gone@example.com"}
    smtp_sink.replies = ["451 4.3.0 try again later"]
    busy = make_reminder(trainee, key="busy")
    refused = make_reminder(primary, key="refused")

    now = timezone.now()
    result = dispatch_due(now=now)
    assert (result.retrying, result.failed) == (1, 1)
    busy.refresh_from_db()
    refused.refresh_from_db()
    assert busy.state == State.PENDING and "451" in busy.last_error
    assert refused.state == State.FAILED and "550" in refused.last_error

    assert dispatch_due(now=busy.next_attempt_at).sent == 1
    assert [m["To"] for m in smtp_sink.messages] == ["trainee@example.com"]


def test_it_gives_up_after_five_attempts(trainee, smtp_sink):
    smtp_sink.replies = ["421 4.3.2 shutting down"] * MAX_ATTEMPTS
    reminder = make_reminder(trainee)
    now = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        dispatch_due(now=now)
        reminder.refresh_from_db()
        now = reminder.next_attempt_at
    assert (reminder.state, reminder.attempts) == (State.FAILED, MAX_ATTEMPTS)
    assert dispatch_due(now=now + timedelta(days=1)).claimed == 0
    assert smtp_sink.messages == []


def test_it_sweeps_rows_stuck_in_sending_back_and_sends_them_once(trainee, smtp_sink):
    reminder = make_reminder(trainee)
    claimed = timezone.now()
    Reminder.objects.filter(pk=reminder.pk).update(
        state=State.SENDING, claimed_at=claimed, claimed_by="dead-worker", attempts=1
    )
    assert dispatch_due(now=claimed + SWEEP_AFTER - timedelta(seconds=1)).swept == 0
    result = dispatch_due(now=claimed + SWEEP_AFTER + timedelta(seconds=1))
    assert (result.swept, result.sent) == (1, 1)
    reminder.refresh_from_db()
    assert (reminder.state, reminder.attempts) == (State.SENT, 2)
    assert len(smtp_sink.messages) == 1


def test_it_does_not_send_a_row_whose_claim_was_taken_over(trainee, smtp_sink):
    make_reminder(trainee)
    token, rows = claim(now=timezone.now())
    # While this worker hung on an earlier row, the sweep handed the row to another.
    Reminder.objects.filter(pk=rows[0].pk).update(claimed_by="another-worker")
    assert deliver(rows[0], token, mailer=None, now=timezone.now()) == "lost"
    assert smtp_sink.messages == []
    assert Reminder.objects.get().claimed_by == "another-worker"


def test_it_hands_back_the_rest_of_a_batch_when_out_of_time(trainee, smtp_sink):
    for n in range(3):
        make_reminder(trainee, key=f"budget-{n}")
    result = dispatch_due(time_budget=-1)
    assert (result.sent, result.released, result.more) == (0, 3, True)
    assert set(Reminder.objects.values_list("state", "attempts")) == {(State.PENDING, 0)}
    assert dispatch_due().sent == 3


def test_it_gives_up_on_a_webhook_that_trickles_its_answer(trainee, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def trickle():
        conn, _ = server.accept()
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
            if stop.is_set():
                break
            try:
                conn.send(bytes([byte]))
            except OSError:
                break
            clock.sleep(1)  # each read gets a byte well within the socket timeout
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    reminder = make_reminder(trainee, channel="webhook")
    started = clock.monotonic()
    try:
        with pytest.raises(channels.TransientError):
            channels.send_webhook(reminder, url=f"http://127.0.0.1:{server.getsockname()[1]}/")
    finally:
        stop.set()
        server.close()
    assert clock.monotonic() - started < channels.WEBHOOK_TIMEOUT + 2


def test_it_claims_a_row_only_once(trainee):
    for n in range(3):
        make_reminder(trainee, key=f"claim-{n}")
    now = timezone.now()
    _token, first = claim(now=now, limit=2)
    _token, second = claim(now=now, limit=2)
    _token, third = claim(now=now, limit=2)
    assert len(first) == 2 and len(second) == 1 and third == []
    assert {r.pk for r in first}.isdisjoint({r.pk for r in second})


# --- pages and admin ---------------------------------------------------------------


def test_it_lists_my_reminders_and_not_others(
    trainee, primary, client_for, django_assert_max_num_queries
):
    for n in range(5):
        make_reminder(trainee, key=f"mine-{n}")
        make_reminder(primary, key=f"theirs-{n}")
    Reminder.objects.filter(dedupe_key="mine-0").update(
        state=State.SENT, sent_at=at("2026-03-09 01:00")
    )
    client = client_for(trainee)
    with django_assert_max_num_queries(8):
        response = client.get("/reminders/")
    assert response.status_code == 200
    assert list(response.context["upcoming"]) == list(
        Reminder.objects.filter(recipient=trainee, state=State.PENDING).order_by(
            "next_attempt_at", "pk"
        )
    )
    assert [r.dedupe_key for r in response.context["recent"]] == ["mine-0"]
    assert "Mon 9 Mar 10:00 JST" in response.content.decode()
    assert not any(r.recipient == primary for r in response.context["upcoming"])


def test_it_links_the_list_and_offers_a_test_on_the_profile(trainee, client_for):
    page = client_for(trainee).get("/profile/").content.decode()
    assert 'href="/reminders/"' in page
    assert 'action="/reminders/test/"' in page and 'form="reminder-test"' in page


def test_it_sends_a_test_through_each_channel_switched_on(
    trainee, client_for, smtp_sink, webhook_receiver, django_capture_on_commit_callbacks
):
    trainee.profile.webhook_enabled = True
    trainee.profile.webhook_url = webhook_receiver.url
    trainee.profile.save()
    client = client_for(trainee)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/reminders/test/")
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert sorted(Reminder.objects.values_list("kind", "channel")) == [
        ("test", "email"),
        ("test", "webhook"),
    ]
    # After commit the dispatch task is enqueued; run it the way a worker would.
    assert len(callbacks) == 1
    celery_app.conf.task_always_eager = True
    try:
        callbacks[0]()
    finally:
        celery_app.conf.task_always_eager = False
    assert set(Reminder.objects.values_list("state", flat=True)) == {State.SENT}
    assert [subject for _to, subject in smtp_sink.subjects()] == ["Test reminder from oncall"]
    assert webhook_receiver.requests[0]["json"]["subject"] == "Test reminder from oncall"


def test_it_says_why_a_test_cannot_go_to_a_refused_webhook(trainee, client_for, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    trainee.profile.email_enabled = False
    trainee.profile.webhook_enabled = True
    trainee.profile.webhook_url = "http://127.0.0.1:9/hook"
    trainee.profile.save()
    response = client_for(trainee).post("/reminders/test/", follow=True)
    assert "Your webhook cannot be called" in response.content.decode()
    assert not Reminder.objects.exists()


def test_it_needs_a_post_and_a_sign_in_for_a_test(trainee, client, client_for):
    assert client.post("/reminders/test/").status_code == 302  # to sign-in
    assert client_for(trainee).get("/reminders/test/").status_code == 405


def test_it_filters_searches_and_retries_in_admin(staff, trainee, client_for):
    failed = make_reminder(trainee, key="failed")
    Reminder.objects.filter(pk=failed.pk).update(state=State.FAILED, attempts=5)
    make_reminder(trainee, key="pending")
    client = client_for(staff)
    page = client.get("/admin/reminders/reminder/?state__exact=failed&q=trainee")
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [Reminder.objects.get(pk=failed.pk)]
    assert client.get("/admin/reminders/reminder/?kind__exact=test").status_code == 200

    client.post(
        "/admin/reminders/reminder/",
        {"action": "retry_now", "_selected_action": [failed.pk]},
    )
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (State.PENDING, 0)


def test_it_keeps_memberships_of_leads_for_digests(team, lead):
    # A lead who steps down gets no more digests: their pending one is cancelled.
    plan_reminders(now=at("2026-03-09 08:00", TOKYO))
    Membership.objects.filter(user=lead).update(role=Membership.Role.MEMBER)
    plan_reminders(now=at("2026-03-09 08:01", TOKYO))
    assert Reminder.objects.get(kind="weekly_digest").state == State.CANCELLED
