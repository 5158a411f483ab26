"""Practice messages: a drill's pages reach the trainee as live pages do, a drill coming up
is announced to both people, and a reverse-shadow page the trainee has not acknowledged
reaches the primary. Drills also show in the calendar feeds.

Drills are replayed by their own replay function, alerts arrive through the
receiver, planning and dispatch are the reminders app's own functions, and
messages go to a real SMTP server and a real HTTP receiver on loopback.
"""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from oncall.alerts.models import AlertOccurrence
from oncall.alerts.sources import create_source
from oncall.drills import feed_events, running
from oncall.drills.models import Drill, Response
from oncall.drills.record import store_scenario
from oncall.drills.replay import replay
from oncall.drills.steps import check_steps
from oncall.reminders.dispatch import dispatch_due
from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.runbooks.models import AlertName, Runbook
from oncall.shifts import feeds
from oncall.shifts.models import ShadowShift
from tests.html_elements import elements
from tests.stack import wait_until
from tests.test_alerts_live import fire, shift_on
from tests.test_reminders_faults import DISPATCH, PLAN, Beat, Stack
from tests.test_reminders_peers import (  # noqa: F401 - fixtures
    SmtpSink,
    smtp_sink_fixture,
    webhook_receiver_fixture,
)
from tests.test_shifts_feed_events import icalendar_bytes

Kind = Reminder.Kind
State = Reminder.State
SITE = "https://oncall.example.com"


@pytest.fixture(autouse=True)
def site(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = SITE


@pytest.fixture
def runbook(team):
    runbook = Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)
    AlertName.objects.create(
        runbook=runbook, name="PaymentsApiHighErrorRate", key="paymentsapihigherrorrate"
    )
    return runbook


@pytest.fixture
def scenario(team, runbook):
    steps = [
        {
            "kind": "fired",
            "offset": 0,
            "alertname": "PaymentsApiHighErrorRate",
            "labels": {"severity": "critical", "service": "checkout"},
            "annotations": {"summary": "5xx above 5%"},
            "runbook": "payments/errors",
        },
        {"kind": "inject", "offset": 600, "text": "Support says checkout fails."},
    ]
    return store_scenario(team=team, title="Payments night", specs=check_steps(steps))


@pytest.fixture
def token(team):
    return create_source(team=team, name="prod")[1]


def rows(kind, **filters):
    return list(
        Reminder.objects.filter(kind=kind, **filters).select_related("recipient").order_by("pk")
    )


def with_webhook(user, url):
    user.profile.webhook_enabled = True
    user.profile.webhook_url = url
    user.profile.save(update_fields=["webhook_enabled", "webhook_url"])


def sent(sink, kind) -> list:
    """(To, Subject) of the messages of ``kind`` the sink accepted (a lead's Monday
    digest may be among the others)."""
    return [
        (m["To"], " ".join(m["Subject"].split()))
        for m in sink.messages
        if m["X-Oncall-Reminder"] == kind
    ]


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --- drill pages ---------------------------------------------------------------


def test_it_sends_a_drill_page_to_the_trainee_once_per_channel_marked_as_a_drill(
    scenario, trainee, lead, smtp_sink, webhook_receiver
):
    with_webhook(trainee, webhook_receiver.url)
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    assert replay() == 1
    plan_reminders()
    plan_reminders()  # a second round finds the same keys
    pages = rows(Kind.DRILL_PAGE)
    assert sorted((r.recipient, r.channel) for r in pages) == [
        (trainee, "email"),
        (trainee, "webhook"),
    ]
    page = pages[0]
    console = f"{SITE}/drills/{drill.pk}/"
    assert page.subject.startswith("[DRILL] PaymentsApiHighErrorRate is firing")
    assert "This is a drill: nothing is broken." in page.body
    assert "5xx above 5%" in page.body
    assert "service=checkout" in page.body and "severity=critical" in page.body
    runbook_url = f"{SITE}/drills/{drill.pk}/runbooks/payments/errors"
    assert f"Runbook: Payments API errors — {runbook_url}" in page.body
    assert f"Drill console: {console}" in page.body
    assert page.link == console
    assert page.is_urgent

    dispatch_due()
    plan_reminders()
    dispatch_due()
    assert sent(smtp_sink, "drill_page") == [("trainee@example.com", page.subject)]
    html = html_of(next(m for m in smtp_sink.messages if m["X-Oncall-Reminder"] == "drill_page"))
    hrefs = {a.attrs["href"] for a in elements(html, "a")}
    assert {runbook_url, console} <= hrefs
    [hook] = webhook_receiver.requests
    fields = hook["json"]["fields"]
    assert hook["json"]["kind"] == "drill_page"
    assert fields["drill"] is True and fields["drill_id"] == drill.pk
    assert fields["alert"] == "PaymentsApiHighErrorRate"
    assert fields["console"] == console and fields["runbook"] == runbook_url


def test_a_drill_page_is_written_in_the_trainees_language(scenario, trainee, lead):
    trainee.profile.language = "ja"
    trainee.profile.save(update_fields=["language"])
    running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    replay()
    plan_reminders()
    [page] = rows(Kind.DRILL_PAGE)
    assert page.subject.startswith("[DRILL] PaymentsApiHighErrorRate が発火中")


def test_a_drill_page_not_yet_sent_is_cancelled_when_the_drill_ends(
    scenario, trainee, lead, smtp_sink
):
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    replay()
    plan_reminders()
    assert [r.state for r in rows(Kind.DRILL_PAGE)] == [State.PENDING]
    assert running.finish(drill=drill, by=lead)
    plan_reminders()
    assert [r.state for r in rows(Kind.DRILL_PAGE)] == [State.CANCELLED]
    dispatch_due()
    assert sent(smtp_sink, "drill_page") == []


def test_dispatch_cancels_a_drill_page_whose_drill_ended_after_planning(
    scenario, trainee, lead, smtp_sink
):
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead)
    replay()
    plan_reminders()
    running.end_response(drill=drill, by=trainee, choice="mitigated")
    result = dispatch_due()  # no planning round between the end and the send
    assert result.cancelled == 1
    assert [r.state for r in rows(Kind.DRILL_PAGE)] == [State.CANCELLED]
    assert sent(smtp_sink, "drill_page") == []


# --- drills coming up ------------------------------------------------------------


def test_the_trainee_and_the_game_master_hear_of_a_drill_coming_and_of_its_new_time(
    scenario, trainee, lead, primary, smtp_sink
):
    now = timezone.now()
    at = now + timedelta(days=2)
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead, at=at)
    plan_reminders()
    first = rows(Kind.DRILL_UPCOMING)
    # Default lead times: a day and an hour before, for each of the two.
    assert sorted((r.recipient.username, r.due_at) for r in first) == sorted(
        (name, at - lead_time)
        for name in ("lead", "trainee")
        for lead_time in (timedelta(days=1), timedelta(hours=1))
    )
    by_name = {r.recipient.username: r for r in first}
    assert by_name["trainee"].subject.startswith("Drill “Payments night” in ")
    assert "lead runs it" in by_name["trainee"].body
    assert by_name["lead"].subject.startswith("You run the drill “Payments night” for trainee")
    assert all(r.link == f"{SITE}/drills/{drill.pk}/" for r in first)

    later = at + timedelta(days=1)
    Drill.objects.filter(pk=drill.pk).update(scheduled_at=later)
    plan_reminders()
    assert {r.state for r in Reminder.objects.filter(pk__in=[r.pk for r in first])} == {
        State.CANCELLED
    }
    moved = rows(Kind.DRILL_UPCOMING, state=State.PENDING)
    assert sorted(r.due_at for r in moved) == sorted(
        [later - timedelta(days=1)] * 2 + [later - timedelta(hours=1)] * 2
    )

    # Nothing went out early, and a cancelled drill wants nothing more.
    dispatch_due()
    assert sent(smtp_sink, "drill_upcoming") == []
    assert running.finish(drill=drill, by=lead)
    plan_reminders()
    assert rows(Kind.DRILL_UPCOMING, state=State.PENDING) == []


def test_a_drill_coming_up_is_sent_to_both_when_due(scenario, trainee, lead, smtp_sink):
    now = timezone.now()
    running.schedule_drill(
        scenario=scenario, trainee=trainee, game_master=lead, at=now + timedelta(minutes=30)
    )
    plan_reminders()  # both lead times passed before it was set: the shortest, at once
    dispatch_due()
    assert sorted(to for to, _subject in sent(smtp_sink, "drill_upcoming")) == [
        "lead@example.com",
        "trainee@example.com",
    ]
    # Once it starts, nothing of it is pending.
    Drill.objects.update(scheduled_at=now - timedelta(seconds=1))
    replay()
    plan_reminders()
    assert rows(Kind.DRILL_UPCOMING, state=State.PENDING) == []


# --- reverse shadow: escalation ----------------------------------------------------


@pytest.fixture
def reverse_shadow(team, trainee, primary):
    trainee.first_name = "Taro"
    trainee.save(update_fields=["first_name"])
    return shift_on(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW)


def occurrence_of(shift):
    return AlertOccurrence.objects.get(team=shift.team)


def test_the_primary_hears_of_a_page_the_trainee_has_not_acknowledged(
    client, token, reverse_shadow, trainee, primary, runbook, smtp_sink
):
    starts = timezone.now() - timedelta(minutes=6)
    fire(client, token, starts=starts)
    plan_reminders()
    # The trainee is paged at once; the primary only by the escalation.
    assert [r.recipient for r in rows(Kind.LIVE_PAGE)] == [trainee]
    [escalation] = rows(Kind.PAGE_ESCALATED)
    assert escalation.recipient == primary
    assert escalation.subject == "Taro has not acknowledged PaymentsApiHighErrorRate after 5 min"
    assert escalation.due_at == starts + timedelta(minutes=5)
    assert escalation.is_urgent
    dispatch_due()
    plan_reminders()
    dispatch_due()
    assert sent(smtp_sink, "page_escalated") == [("primary@example.com", escalation.subject)]
    html = html_of(
        next(m for m in smtp_sink.messages if m["X-Oncall-Reminder"] == "page_escalated")
    )
    hrefs = {a.attrs["href"] for a in elements(html, "a")}
    assert f"{SITE}/shifts/{reverse_shadow.pk}/" in hrefs
    assert f"{SITE}/runbooks/payments/errors/" in hrefs


def test_the_escalation_waits_for_the_teams_delay_in_the_primarys_language(
    client, token, team, reverse_shadow, primary
):
    team.escalation_delay = 10
    team.save(update_fields=["escalation_delay"])
    primary.profile.language = "ja"
    primary.profile.save(update_fields=["language"])
    starts = timezone.now() - timedelta(minutes=1)
    fire(client, token, starts=starts)
    plan_reminders()
    [escalation] = rows(Kind.PAGE_ESCALATED)
    assert escalation.due_at == starts + timedelta(minutes=10)
    assert "10分" in escalation.subject


def test_no_escalation_for_a_page_acknowledged_in_time(
    client, token, reverse_shadow, trainee, smtp_sink
):
    starts = timezone.now() - timedelta(minutes=6)
    fire(client, token, starts=starts)
    Response.objects.create(
        responder=trainee,
        occurrence=occurrence_of(reverse_shadow),
        shift=reverse_shadow,
        acknowledged_at=starts + timedelta(minutes=2),
    )
    plan_reminders()
    dispatch_due()
    assert rows(Kind.PAGE_ESCALATED) == []
    assert [m["X-Oncall-Reminder"] for m in smtp_sink.messages] == ["live_page"]


def test_a_page_acknowledged_too_late_still_escalates(client, token, reverse_shadow, trainee):
    starts = timezone.now() - timedelta(minutes=8)
    fire(client, token, starts=starts)
    Response.objects.create(
        responder=trainee,
        occurrence=occurrence_of(reverse_shadow),
        shift=reverse_shadow,
        acknowledged_at=starts + timedelta(minutes=7),
    )
    plan_reminders()
    assert len(rows(Kind.PAGE_ESCALATED, state=State.PENDING)) == 1


def test_an_escalation_planned_is_cancelled_when_the_page_is_acknowledged_before_it_is_due(
    client, token, reverse_shadow, trainee, smtp_sink
):
    starts = timezone.now() - timedelta(minutes=1)
    fire(client, token, starts=starts)
    plan_reminders()
    [escalation] = rows(Kind.PAGE_ESCALATED)
    assert escalation.state == State.PENDING
    Response.objects.create(
        responder=trainee,
        occurrence=occurrence_of(reverse_shadow),
        shift=reverse_shadow,
        acknowledged_at=timezone.now(),
    )
    plan_reminders()
    escalation.refresh_from_db()
    assert escalation.state == State.CANCELLED


def test_dispatch_cancels_an_escalation_acknowledged_in_time_since_planning(
    client, token, reverse_shadow, trainee, smtp_sink
):
    starts = timezone.now() - timedelta(minutes=1)
    fire(client, token, starts=starts)
    plan_reminders()
    dispatch_due()  # the trainee's own page
    [escalation] = rows(Kind.PAGE_ESCALATED)
    Response.objects.create(
        responder=trainee,
        occurrence=occurrence_of(reverse_shadow),
        shift=reverse_shadow,
        acknowledged_at=timezone.now(),
    )
    # No planning round between the acknowledgement and the moment it falls due.
    result = dispatch_due(now=escalation.due_at + timedelta(seconds=1))
    assert result.cancelled == 1 and result.sent == 0
    escalation.refresh_from_db()
    assert escalation.state == State.CANCELLED
    assert [m["X-Oncall-Reminder"] for m in smtp_sink.messages] == ["live_page"]


def test_a_shadow_shift_never_escalates(client, token, team, trainee, primary):
    shift_on(team, trainee, primary)
    fire(client, token, starts=timezone.now() - timedelta(minutes=30))
    plan_reminders()
    assert rows(Kind.PAGE_ESCALATED) == []


# --- the live page ---------------------------------------------------------------


def test_the_live_page_email_links_the_runbook_the_shift_and_the_response_page(
    client, token, team, trainee, primary, runbook, smtp_sink, webhook_receiver
):
    with_webhook(trainee, webhook_receiver.url)
    shift = shift_on(team, trainee, primary)
    fire(client, token)
    plan_reminders()
    dispatch_due()
    [message] = [m for m in smtp_sink.messages if m["X-Oncall-Reminder"] == "live_page"]
    hrefs = {a.attrs["href"] for a in elements(html_of(message), "a")}
    occurrence = occurrence_of(shift)
    response_url = f"{SITE}/shifts/{shift.pk}/pages/{occurrence.pk}/"
    assert {
        f"{SITE}/runbooks/payments/errors/",
        f"{SITE}/shifts/{shift.pk}/",
        response_url,
    } <= hrefs
    [hook] = webhook_receiver.requests
    assert hook["json"]["fields"]["response_url"] == response_url


def test_the_html_email_links_only_the_sites_own_urls_and_escapes_alert_text(
    client, token, team, trainee, primary, smtp_sink
):
    shift_on(team, trainee, primary)
    summary = (
        "<b>bold</b> see https://evil.example/login and https://oncall.example.com.evil.example/"
    )
    fire(client, token, annotations={"summary": summary})
    plan_reminders()
    dispatch_due()
    [message] = [m for m in smtp_sink.messages if m["X-Oncall-Reminder"] == "live_page"]
    html = html_of(message)
    hrefs = {a.attrs["href"] for a in elements(html, "a")}
    assert all(href.startswith(f"{SITE}/") for href in hrefs)
    assert elements(html, "b") == []
    assert any(summary in p.text for p in elements(html, "p"))


# --- calendar feeds ----------------------------------------------------------------


def drill_events(user) -> dict:
    body = feeds.calendar_for(feeds.shifts_for_person(user), name="feed", person=user)
    return {
        str(event["UID"]): event
        for event in Calendar.from_ical(body).walk("VEVENT")
        if str(event["UID"]).startswith("drill-")
    }


def test_a_drill_is_in_the_feeds_of_its_trainee_and_game_master_only(
    scenario, trainee, lead, primary, outsider
):
    at = timezone.now() + timedelta(days=2)
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead, at=at)
    uid = f"drill-{drill.pk}@oncall"
    for person in (trainee, lead):
        event = drill_events(person)[uid]
        assert event.decoded("DTSTART") == at.replace(microsecond=0)
        assert "Payments night" in str(event["SUMMARY"])
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(event["URL"]) == f"{SITE}/drills/{drill.pk}/"
    assert drill_events(primary) == {}
    assert drill_events(outsider) == {}


def test_the_served_feed_of_a_person_carries_their_drills(client, scenario, trainee, lead):
    drill = running.schedule_drill(
        scenario=scenario, trainee=trainee, game_master=lead, at=timezone.now() + timedelta(days=2)
    )
    for person in (trainee, lead):
        response = client.get(reverse("shifts:feed", args=[person.profile.calendar_token]))
        uids = {str(e["UID"]) for e in Calendar.from_ical(response.content).walk("VEVENT")}
        assert f"drill-{drill.pk}@oncall" in uids


def test_a_moved_drill_keeps_its_uid_and_a_cancelled_one_is_marked_cancelled(
    scenario, trainee, lead
):
    at = timezone.now() + timedelta(days=2)
    drill = running.schedule_drill(scenario=scenario, trainee=trainee, game_master=lead, at=at)
    uid = f"drill-{drill.pk}@oncall"
    Drill.objects.filter(pk=drill.pk).update(scheduled_at=at + timedelta(hours=3))
    moved = drill_events(trainee)[uid]
    assert moved.decoded("DTSTART") == (at + timedelta(hours=3)).replace(microsecond=0)
    before = int(moved["SEQUENCE"])
    assert running.finish(drill=drill, by=lead)
    cancelled = drill_events(trainee)[uid]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) > before
    assert "This drill was cancelled." in str(cancelled["DESCRIPTION"])


def test_a_drill_event_is_written_as_icalendar_writes_it(scenario, trainee, lead):
    trainee.first_name, trainee.last_name = "Taro, the new; one", "Yamada\\山田"
    trainee.save()
    running.schedule_drill(
        scenario=scenario, trainee=trainee, game_master=lead, at=timezone.now() + timedelta(days=1)
    )
    [drill] = feed_events.drills_for_person(trainee)
    lines = feed_events.event_for(drill)
    assert lines.to_ical() == icalendar_bytes(lines)


def test_a_feed_without_a_person_is_unchanged(scenario, trainee, lead):
    running.schedule_drill(
        scenario=scenario,
        trainee=trainee,
        game_master=lead,
        at=timezone.now() + timedelta(days=1),
    )
    body = feeds.calendar_for(feeds.shifts_for_person(trainee), name="feed")
    assert b"drill-" not in body


# --- through a real worker -------------------------------------------------------

WORKER_SEED = """
from django.contrib.auth import get_user_model
from oncall.drills.record import store_scenario
from oncall.drills.running import schedule_drill
from oncall.drills.steps import check_steps
from oncall.teams.models import Membership, Team
User = get_user_model()
team = Team.objects.create(slug="payments", name="Payments")
lead = User.objects.create_user("lead", email="lead@example.com")
trainee = User.objects.create_user("trainee", email="trainee@example.com")
Membership.objects.create(user=lead, team=team, role="lead")
Membership.objects.create(user=trainee, team=team)
steps = [{"kind": "fired", "offset": n, "alertname": f"Alert{n}"} for n in range(3)]
scenario = store_scenario(team=team, title="storm", specs=check_steps(steps))
print(schedule_drill(scenario=scenario, trainee=trainee, game_master=lead).pk)
"""


def drill_subjects(sink) -> list[str]:
    return [subject for _to, subject in sink.subjects() if subject.startswith("[DRILL]")]


@pytest.mark.slow
def test_a_worker_replays_plans_and_sends_each_drill_page_once(tmp_path):
    stack = Stack(tmp_path)
    sink = SmtpSink().start()
    try:
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.start_redis()
        stack.manage("shell", code=WORKER_SEED)
        stack.start_worker("practice", smtp_port=sink.port, concurrency=2)
        with Beat(stack, "oncall.drills.tasks.replay", PLAN, DISPATCH, interval=1.0):
            assert wait_until(lambda: len(drill_subjects(sink)) == 3, 90), stack.db.query(
                "SELECT kind, state, last_error FROM reminders_reminder"
            )
            time.sleep(3)  # more rounds of planning and dispatch find nothing new to send
        assert sorted(drill_subjects(sink)) == [
            f"[DRILL] Alert{n} is firing — drill “storm”" for n in range(3)
        ]
        assert stack.db.query(
            "SELECT state, COUNT(*) FROM reminders_reminder WHERE kind = 'drill_page' GROUP BY state"
        ) == [("sent", 3)]
    finally:
        stack.stop_workers()
        stack.stop_redis()
        sink.stop()
        stack.db.drop()
