"""Live pages as practice: the trainee's response to a real page, and the primary's review."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence
from oncall.drills import live, running
from oncall.drills.models import Response, ResponseEvent
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.conftest import make_user

PRACTICE = "Practice only: this does not acknowledge or silence anything in Alertmanager"


@pytest.fixture
def runbook(team):
    return Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)


@pytest.fixture
def shift(team, trainee, primary):
    now = timezone.now()
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=now - timedelta(hours=2),
        ends_at=now + timedelta(hours=6),
    )


def page_at(team, at, runbook=None, name="PaymentsApiHighErrorRate"):
    return AlertOccurrence.objects.create(
        fingerprint=f"{name}-{at:%H%M%S%f}",
        starts_at=at,
        status=AlertOccurrence.Status.FIRING,
        team=team,
        alertname=name,
        alert_key=name.lower(),
        labels={"alertname": name, "severity": "critical"},
        annotations={"summary": "5xx above 5% on payments-api"},
        runbook=runbook,
    )


@pytest.fixture
def page(team, shift, runbook):
    return page_at(team, shift.starts_at + timedelta(minutes=30), runbook)


@pytest.fixture
def teammate(django_user_model, team):
    user = make_user(django_user_model, "teammate")
    Membership.objects.create(user=user, team=team)
    return user


def url(shift, page, action=""):
    return f"/shifts/{shift.pk}/pages/{page.pk}/{action + '/' if action else ''}"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- access --


def test_only_the_trainee_the_primary_and_leads_open_a_live_page(
    shift, page, trainee, primary, lead, teammate, outsider, staff
):
    for user in (trainee, primary, lead, staff):
        assert signed_in(user).get(url(shift, page)).status_code == 200, user
    for user in (teammate, outsider):
        client = signed_in(user)
        assert client.get(url(shift, page)).status_code == 404, user
        for action in ("acknowledge", "note", "end", "review"):
            assert client.post(url(shift, page, action)).status_code == 404, (user, action)
    assert not Response.objects.exists()


def test_the_page_is_titled_with_the_alert_and_says_it_is_practice(
    client_for, shift, page, trainee
):
    text = client_for(trainee).get(url(shift, page)).text
    assert "Live page: PaymentsApiHighErrorRate" in text
    assert PRACTICE in text
    assert "5xx above 5% on payments-api" in text
    assert "Acknowledge" in text


def test_a_page_before_or_after_the_shift_or_of_another_team_has_no_response_page(
    client_for, team, other_team, shift, trainee
):
    client = client_for(trainee)
    before = page_at(team, shift.starts_at - timedelta(seconds=1))
    at_end = page_at(team, shift.ends_at)
    elsewhere = page_at(other_team, shift.starts_at + timedelta(minutes=5))
    first = page_at(team, shift.starts_at)
    for occurrence in (before, at_end, elsewhere):
        assert client.get(url(shift, occurrence)).status_code == 404
        assert client.post(url(shift, occurrence, "acknowledge")).status_code == 404
    assert client.get(url(shift, first)).status_code == 200
    assert client.get(f"/shifts/{shift.pk}/pages/999999/").status_code == 404


def test_a_cancelled_shift_has_no_response_pages(client_for, shift, page, trainee):
    shift.state = ShadowShift.State.CANCELLED
    shift.save(update_fields=["state"])
    assert client_for(trainee).get(url(shift, page)).status_code == 404


def test_a_primary_who_left_the_team_no_longer_opens_it(client_for, shift, page, primary):
    Membership.objects.filter(user=primary).delete()
    assert client_for(primary).get(url(shift, page)).status_code == 404


# -- the trainee's response --


def test_viewing_writes_nothing_and_the_first_action_makes_the_response(
    client_for, shift, page, trainee
):
    client = client_for(trainee)
    assert client.get(url(shift, page)).status_code == 200
    assert not Response.objects.exists()
    assert client.post(url(shift, page, "acknowledge")).status_code == 302
    response = Response.objects.get()
    assert (response.responder, response.shift, response.occurrence) == (trainee, shift, page)
    assert response.drill is None and response.acknowledged_at is not None


def test_acknowledging_twice_changes_nothing(client_for, shift, page, trainee):
    client = client_for(trainee)
    client.post(url(shift, page, "acknowledge"))
    first = Response.objects.get().acknowledged_at
    answer = client.post(url(shift, page, "acknowledge"), follow=True)
    assert "Acknowledged" in answer.text
    assert Response.objects.get().acknowledged_at == first
    assert ResponseEvent.objects.filter(kind=ResponseEvent.Kind.ACKNOWLEDGED).count() == 1


def test_the_trainee_logs_a_hypothesis_notes_and_an_end(client_for, shift, page, trainee):
    client = client_for(trainee)
    client.post(url(shift, page, "acknowledge"))
    client.post(url(shift, page, "note"), {"text": "DB pool exhausted?", "hypothesis": "on"})
    client.post(url(shift, page, "note"), {"text": "checking the deploy log"})
    answer = client.post(url(shift, page, "end"), {"choice": "escalate", "text": "the DB team"})
    assert answer.status_code == 302
    response = Response.objects.get()
    assert (response.hypothesis, response.end_choice, response.end_text) == (
        "DB pool exhausted?",
        "escalate",
        "the DB team",
    )
    kinds = list(response.events.values_list("kind", flat=True))
    assert kinds == ["acknowledged", "hypothesis", "note", "ended"]
    # Ended: the first end stands and the log takes no more notes.
    client.post(url(shift, page, "end"), {"choice": "mitigated"})
    after = client.post(url(shift, page, "note"), {"text": "one more"}, follow=True)
    assert "You ended your response to this page." in after.text
    assert Response.objects.get().end_choice == "escalate"
    assert response.events.count() == 4


def test_bad_notes_and_ends_are_named_and_lose_nothing(client_for, shift, page, trainee):
    client = client_for(trainee)
    assert "The note is empty." in client.post(url(shift, page, "note"), {}, follow=True).text
    answer = client.post(url(shift, page, "end"), {"choice": "escalate", "text": ""}, follow=True)
    assert "The end note is empty." in answer.text
    answer = client.post(url(shift, page, "end"), {"choice": "shrug"}, follow=True)
    assert "Choose how it ended" in answer.text
    assert Response.objects.get().ended_at is None


def test_only_the_trainee_writes_the_response(client_for, shift, page, primary, lead):
    for user in (primary, lead):
        answer = client_for(user).post(url(shift, page, "acknowledge"), follow=True)
        assert "Only the trainee of the shift responds to its pages." in answer.text
    assert not Response.objects.exists()


def test_responding_after_the_shift_ended_is_refused_with_the_reason(
    client_for, shift, page, trainee
):
    client = client_for(trainee)
    client.post(url(shift, page, "acknowledge"))
    shift.ends_at = timezone.now() - timedelta(minutes=1)
    shift.save(update_fields=["ends_at"])
    answer = client.post(url(shift, page, "note"), {"text": "late thought"})
    assert answer.status_code == 409
    assert "The shift is over" in answer.text
    htmx = client.post(
        url(shift, page, "end"), {"choice": "mitigated"}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 409 and htmx["HX-Refresh"] == "true"
    # The reload says why.
    assert "The shift is over" in client.get(url(shift, page)).text
    response = Response.objects.get()
    assert response.events.count() == 1 and response.ended_at is None


def test_htmx_gets_the_console_back(client_for, shift, page, trainee):
    answer = client_for(trainee).post(
        url(shift, page, "acknowledge"), headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200
    assert 'id="drill-console"' in answer.text and "<html" not in answer.text
    assert "Acknowledged" in answer.text


def test_every_post_needs_csrf(shift, page, trainee, primary):
    for user, action, data in (
        (trainee, "acknowledge", {}),
        (trainee, "note", {"text": "x"}),
        (trainee, "end", {"choice": "mitigated"}),
        (primary, "review", {"mark": "handled_well"}),
    ):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        assert client.post(url(shift, page, action), data).status_code == 403, action
    assert not Response.objects.exists()


# -- runbooks opened from the console --


def test_a_runbook_opened_from_the_console_is_recorded_with_its_time(
    client_for, shift, page, trainee, runbook
):
    client = client_for(trainee)
    # Before the first action the link names the shift and the page.
    text = client.get(url(shift, page)).text
    assert f"/runbooks/payments/errors/?shift={shift.pk}&amp;page={page.pk}" in text
    opened = client.get(f"/runbooks/payments/errors/?shift={shift.pk}&page={page.pk}")
    assert opened.status_code == 200 and "Back to the console" in opened.text
    response = Response.objects.get()
    assert f"/runbooks/payments/errors/?response={response.pk}" in client.get(url(shift, page)).text
    client.get(f"/runbooks/payments/errors/?response={response.pk}")
    events = list(response.events.all())
    assert [(e.kind, e.runbook) for e in events] == [("runbook_opened", runbook)] * 2
    assert "Opened the runbook Payments API errors" in client.get(url(shift, page)).text


def test_a_runbook_opened_by_someone_else_or_after_the_end_records_nothing(
    client_for, shift, page, trainee, primary, runbook
):
    live.acknowledge(shift=shift, occurrence=page, by=trainee)
    response = Response.objects.get()
    other = client_for(primary).get(f"/runbooks/payments/errors/?response={response.pk}")
    assert other.status_code == 200 and "Back to the console" not in other.text
    live.end(shift=shift, occurrence=page, by=trainee, choice="mitigated")
    client_for(trainee).get(f"/runbooks/payments/errors/?response={response.pk}")
    assert not response.events.filter(kind="runbook_opened").exists()


def test_an_opening_from_a_console_is_never_answered_not_modified(
    client_for, shift, page, trainee, runbook
):
    live.acknowledge(shift=shift, occurrence=page, by=trainee)
    response = Response.objects.get()
    client = client_for(trainee)
    path = f"/runbooks/payments/errors/?response={response.pk}"
    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 200
    assert response.events.filter(kind="runbook_opened").count() == 2


# -- the review: the primary's account and mark --


def test_the_primary_writes_an_account_and_marks_the_response(
    client_for, shift, page, trainee, primary
):
    live.acknowledge(shift=shift, occurrence=page, by=trainee)
    client = client_for(primary)
    answer = client.post(
        url(shift, page, "review"),
        {"text": "Rolled back the deploy.", "mark": "handled_well", "note": "Quick ack."},
    )
    assert answer.status_code == 302 and answer["Location"] == url(shift, page)
    response = Response.objects.get()
    assert (response.primary_account, response.mark, response.mark_note, response.marked_by) == (
        "Rolled back the deploy.",
        "handled_well",
        "Quick ack.",
        primary,
    )
    # The trainee reads it and has no form to change it.
    text = client_for(trainee).get(url(shift, page)).text
    assert "Rolled back the deploy." in text and "handled well" in text
    assert 'name="mark"' not in text


def test_needs_work_needs_a_note_and_a_lead_may_mark_too(client_for, shift, page, lead):
    client = client_for(lead)
    answer = client.post(url(shift, page, "review"), {"mark": "needs_work"}, follow=True)
    assert "Say what needs work." in answer.text
    assert not Response.objects.exists()
    client.post(url(shift, page, "review"), {"mark": "needs_work", "note": "Never acknowledged."})
    response = Response.objects.get()  # an unanswered page is marked too
    assert (response.mark, response.acknowledged_at, response.marked_by) == (
        "needs_work",
        None,
        lead,
    )


def test_the_trainee_cannot_mark(client_for, shift, page, trainee):
    answer = client_for(trainee).post(url(shift, page, "review"), {"mark": "handled_well"})
    assert answer.status_code == 404
    assert not Response.objects.exists()
    with pytest.raises(running.DrillError):
        live.review(shift=shift, occurrence=page, by=trainee, mark="handled_well")


def test_a_bad_mark_is_named(client_for, shift, page, primary):
    answer = client_for(primary).post(url(shift, page, "review"), {"mark": "great"}, follow=True)
    assert "Choose handled well or needs work." in answer.text


def test_marks_reach_their_listeners_in_the_transaction(shift, page, primary):
    heard = []
    running.on_response_marked(heard.append)
    try:
        live.review(shift=shift, occurrence=page, by=primary, mark="handled_well")
    finally:
        running._marked_listeners.remove(heard.append)
    assert [r.mark for r in heard] == ["handled_well"]


# -- the debrief's comparison on the shift page --


def test_the_shift_page_compares_the_response_with_the_primarys_account(
    client_for, shift, page, trainee, primary, teammate, runbook
):
    live.acknowledge(shift=shift, occurrence=page, by=trainee)
    live.add_note(shift=shift, occurrence=page, by=trainee, text="Pool exhausted?")
    live.review(
        shift=shift,
        occurrence=page,
        by=primary,
        mark="handled_well",
        account="Restarted the pool.",
    )
    mine = client_for(trainee).get(f"/shifts/{shift.pk}/").text
    assert "Pages: the trainee's response and the primary's account" in mine
    assert "Pool exhausted?" in mine and "Restarted the pool." in mine
    assert "handled well" in mine and 'name="mark"' not in mine
    theirs = client_for(primary).get(f"/shifts/{shift.pk}/").text
    assert 'name="mark"' in theirs and f'action="{url(shift, page, "review")}"' in theirs
    assert "Pool exhausted?" not in client_for(teammate).get(f"/shifts/{shift.pk}/").text


def test_the_review_from_the_shift_page_comes_back_to_it(client_for, shift, page, primary):
    answer = client_for(primary).post(
        url(shift, page, "review"),
        {"mark": "handled_well", "next": f"/shifts/{shift.pk}/"},
    )
    assert answer["Location"] == f"/shifts/{shift.pk}/"
    elsewhere = client_for(primary).post(
        url(shift, page, "review"), {"mark": "handled_well", "next": "https://evil.example/"}
    )
    assert elsewhere["Location"] == url(shift, page)


def test_the_comparison_reads_a_fixed_number_of_queries(
    client_for, shift, team, trainee, primary, django_assert_max_num_queries
):
    for minutes in range(8):
        occurrence = page_at(team, shift.starts_at + timedelta(minutes=minutes))
        live.acknowledge(shift=shift, occurrence=occurrence, by=trainee)
        live.add_note(shift=shift, occurrence=occurrence, by=trainee, text=f"note {minutes}")
    client = client_for(primary)
    client.get(f"/shifts/{shift.pk}/")
    with django_assert_max_num_queries(30):
        client.get(f"/shifts/{shift.pk}/")
    occurrence = AlertOccurrence.objects.filter(team=team).first()
    with django_assert_max_num_queries(14):
        client.get(url(shift, occurrence))


# -- the demo --


def test_the_demo_has_a_page_on_now_with_a_response_and_a_compared_past_page(db):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent
    now = timezone.now()
    responses = Response.objects.filter(
        responder__username="trainee", occurrence__isnull=False
    ).select_related("shift")
    on_now = [r for r in responses if r.shift.starts_at <= now < r.shift.ends_at]
    past = [r for r in responses if r.shift.ends_at <= now]
    assert len(on_now) == 1 and on_now[0].acknowledged_at is not None
    assert on_now[0].hypothesis and not on_now[0].mark
    assert len(past) == 1
    assert (past[0].mark, past[0].marked_by.username) == ("handled_well", "primary")
    assert past[0].primary_account and past[0].events.count() == 4


# -- wording: the unit the form asks for, whole sentences --


def test_the_scenario_page_says_times_in_minutes_as_its_form_asks(client_for, team, lead):
    from oncall.drills.record import store_scenario
    from oncall.drills.steps import check_steps

    scenario = store_scenario(
        team=team,
        title="Checkout errors",
        specs=check_steps(
            [
                {"kind": "fired", "offset": 0, "alertname": "PaymentsApiHighErrorRate"},
                {"kind": "inject", "offset": 90, "text": "The pool graph is flat."},
                {"kind": "inject", "offset": 240, "text": "A deploy at 02:58."},
            ]
        ),
        by=lead,
    )
    text = client_for(lead).get(scenario.get_absolute_url()).text
    assert "+1:30 min" in text and "+4 min" in text and "+0 min" in text
    assert "5 min" in text  # the acknowledge target, 300 s
    assert "+90 s" not in text and "300 s" not in text


def test_a_bad_label_or_annotation_line_is_named_in_a_whole_sentence():
    from django.core.exceptions import ValidationError

    from oncall.drills.forms import parse_pairs

    with pytest.raises(ValidationError, match="Annotations line 2 is not key=value."):
        parse_pairs("summary=ok\nno pair here", field="annotations")
    with pytest.raises(ValidationError, match="The label service is longer than"):
        parse_pairs("service=" + "x" * 2000, field="labels")
