"""Readiness from live pages: respond-to-pages items count responses the primary
or a lead marked handled well; the dashboard shows response times, live and drills."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence
from oncall.drills.models import Response, ResponseEvent
from oncall.readiness import gate, practice, reconcile
from oncall.readiness.models import ChecklistTemplate, Kind, Onboarding, TemplateItem
from oncall.readiness.progress import ReadinessError, tick_item
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership
from tests.test_readiness_drills import run_drill, scenario_of
from tests.test_readiness_support import start

HANDLED_WELL, NEEDS_WORK = Response.Mark.HANDLED_WELL, Response.Mark.NEEDS_WORK


@pytest.fixture
def runbook(team):
    return Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)


def pages_template(team, *, count: int = 2) -> ChecklistTemplate:
    """A checklist of one task and one respond-to-pages item."""
    template = ChecklistTemplate.objects.create(team=team, name="Live pages")
    TemplateItem.objects.create(
        template=template, section="Access", title="Laptop", kind=Kind.TASK, order=0
    )
    TemplateItem.objects.create(
        template=template,
        section="Practice",
        title="Respond to live pages",
        kind=Kind.RESPOND_TO_PAGES,
        count=count,
        order=10,
    )
    return template


def pages_item(onboarding):
    return onboarding.items.get(kind=Kind.RESPOND_TO_PAGES)


def page(team, *, at=None, name: str = "PaymentsApiHighErrorRate") -> AlertOccurrence:
    """A real page received by the team."""
    at = at or timezone.now() - timedelta(hours=1)
    n = AlertOccurrence.objects.count()
    return AlertOccurrence.objects.create(
        team=team,
        fingerprint=f"fp{n}",
        starts_at=at - timedelta(minutes=1),
        received_at=at,
        status=AlertOccurrence.Status.FIRING,
        alertname=name,
        alert_key=f"{name.lower()}-{n}",
    )


def shift_of(team, trainee, primary, *, at=None) -> ShadowShift:
    at = at or timezone.now() - timedelta(hours=2)
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=at,
        ends_at=at + timedelta(hours=8),
        state=ShadowShift.State.DONE,
    )


def respond(
    team,
    trainee,
    primary,
    *,
    mark="",
    marked_by=None,
    at=None,
    ack=None,
    first_runbook=None,
    runbook=None,
) -> Response:
    """The trainee's response to a live page on a shift with ``primary``,
    acknowledged ``ack`` and a runbook opened ``first_runbook`` seconds after
    the page, then marked (what the live page's review POST stores)."""
    at = at or timezone.now() - timedelta(hours=1)
    occurrence = page(team, at=at)
    shift = shift_of(team, trainee, primary, at=at - timedelta(hours=1))
    response = Response.objects.create(
        responder=trainee,
        occurrence=occurrence,
        shift=shift,
        acknowledged_at=at + timedelta(seconds=ack) if ack is not None else None,
    )
    if ack is not None:
        ResponseEvent.objects.create(
            response=response, kind=ResponseEvent.Kind.ACKNOWLEDGED, at=response.acknowledged_at
        )
    if first_runbook is not None:
        ResponseEvent.objects.create(
            response=response,
            kind=ResponseEvent.Kind.RUNBOOK_OPENED,
            at=at + timedelta(seconds=first_runbook),
            runbook=runbook,
        )
    if mark:
        response.mark = mark
        response.marked_by = marked_by or primary
        response.marked_at = timezone.now()
        response.save(update_fields=["mark", "marked_by", "marked_at"])
    return response


def test_an_item_counts_only_pages_marked_handled_well_by_the_primary_or_a_lead(
    team, other_team, lead, primary, trainee, outsider, django_user_model
):
    onboarding = start(trainee, team, pages_template(team, count=2), lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    member = django_user_model.objects.create_user("member")
    Membership.objects.create(user=member, team=team, role=Membership.Role.MEMBER)
    Membership.objects.create(user=trainee, team=other_team, role=Membership.Role.MEMBER)
    # None of these counts: marked needs work, not marked yet, marked by the
    # trainee themselves, marked by a member who was not the shift's primary,
    # a page of another team handled well there.
    respond(team, trainee, primary, mark=NEEDS_WORK)
    respond(team, trainee, primary)
    respond(team, trainee, primary, mark=HANDLED_WELL, marked_by=trainee)
    respond(team, trainee, primary, mark=HANDLED_WELL, marked_by=member)
    respond(other_team, trainee, outsider, mark=HANDLED_WELL)

    result = gate.evaluate(onboarding)
    status = result.status(pages_item(onboarding))
    assert (status.pages_done, status.done, result.passed) == (0, False, False)
    assert result.missing == ["2 more live pages handled well (0 of 2)"]
    assert practice.pages_handled(other_team.pk, trainee.pk) == 1

    respond(team, trainee, primary, mark=HANDLED_WELL)  # the shift's primary
    result = gate.evaluate(onboarding)
    assert result.status(pages_item(onboarding)).pages_done == 1
    assert "1 more live page handled well (1 of 2)" in result.explanation

    respond(team, trainee, member, mark=HANDLED_WELL, marked_by=lead)  # a lead, not the primary
    result = gate.evaluate(onboarding)
    assert (result.status(pages_item(onboarding)).done, result.passed) == (True, True)
    # The dashboard reads the same count with the response times, in one query.
    long_ago = timezone.now() - timedelta(days=400)
    records = practice.response_records(
        team.pk, {trainee.pk: long_ago}, now=timezone.now(), tz=team.tz
    )
    assert records[trainee.pk].handled_well == 2

    # A tick on the item by some other way (an admin edit) counts for nothing.
    item = pages_item(onboarding)
    item.count, item.done_at = 3, timezone.now()
    item.save(update_fields=["count", "done_at"])
    assert gate.evaluate(onboarding).status(item).done is False


def test_a_mark_moves_the_stored_readiness_through_the_hook_or_the_next_reconcile(
    team, lead, primary, trainee
):
    onboarding = start(trainee, team, pages_template(team, count=1), lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done) == (Onboarding.State.IN_PROGRESS, 1)

    # The hook the live page's review calls in the transaction of the mark.
    response = respond(team, trainee, primary, mark=HANDLED_WELL)
    reconcile.on_response_marked(response)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done, onboarding.required_total) == (
        Onboarding.State.READY,
        2,
        2,
    )

    # Changed to needs work without the hook (an admin edit): the periodic
    # reconcile puts the stored state right.
    Response.objects.filter(pk=response.pk).update(mark=NEEDS_WORK)
    assert reconcile.reconcile_all() == (1, 0)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done, onboarding.ready_at) == (
        Onboarding.State.IN_PROGRESS,
        1,
        None,
    )


def test_the_hook_leaves_drill_responses_and_other_teams_alone(
    team, other_team, lead, primary, trainee, outsider, runbook
):
    onboarding = start(trainee, team, pages_template(team, count=1), lead)
    Membership.objects.create(user=trainee, team=other_team, role=Membership.Role.MEMBER)
    elsewhere = respond(other_team, trainee, outsider, mark=HANDLED_WELL)
    with CaptureQueriesContext(connection) as queries:
        reconcile.on_response_marked(elsewhere)
    # Read the page's team, find no onboarding there: nothing written.
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    drill = run_drill(scenario_of(team, lead), trainee, lead, at=timezone.now())
    drill_response = Response.objects.get(drill=drill)
    with CaptureQueriesContext(connection) as queries:
        reconcile.on_response_marked(drill_response)
    assert len(queries) == 0
    onboarding.refresh_from_db()
    assert onboarding.required_done == 0


def test_nobody_ticks_a_respond_to_pages_item_by_hand(client_for, team, lead, trainee):
    onboarding = start(trainee, team, pages_template(team, count=1), lead)
    item = pages_item(onboarding)
    with pytest.raises(ReadinessError, match="marks them handled well"):
        tick_item(item=item, by=trainee)
    with pytest.raises(ReadinessError):
        tick_item(item=item, by=lead)

    url = reverse("readiness:item", args=[onboarding.pk, item.pk])
    answer = client_for(trainee).post(url, {"action": "tick"}, follow=True)
    assert "marks them handled well" in answer.text
    item.refresh_from_db()
    assert item.done_at is None
    page_text = client_for(trainee).get(onboarding.get_absolute_url()).text
    assert f'action="{url}"' not in page_text  # no tick box: a count instead
    assert "1 more live page handled well (0 of 1)" in page_text


def test_the_gate_reads_pages_once_and_not_at_all_when_given(team, lead, trainee):
    onboarding = start(trainee, team, pages_template(team, count=1), lead)
    items = list(onboarding.items.select_related("runbook"))
    with CaptureQueriesContext(connection) as queries:
        gate.evaluate(onboarding, items=items, shift_counts={}, pages_handled_well=1)
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        result = gate.evaluate(onboarding, items=items, shift_counts={})
    assert len(queries) == 1
    assert result.status(pages_item(onboarding)).pages_done == 0


def test_response_times_are_medians_of_live_pages_and_drills_in_the_last_30_days(
    team, other_team, lead, primary, trainee, outsider, runbook
):
    now = timezone.now()
    onboarding = start(trainee, team, pages_template(team), lead)
    Onboarding.objects.filter(pk=onboarding.pk).update(started_at=now - timedelta(weeks=8))
    # Live: 60 s, 120 s and 600 s to acknowledge (median 2:00); runbooks at 90
    # and 300 s (median 3:15); one page never acknowledged still counts as a page.
    for days, ack, first in [(1, 60, 90), (2, 120, None), (3, 600, 300), (4, None, None)]:
        respond(
            team,
            trainee,
            primary,
            at=now - timedelta(days=days),
            ack=ack,
            first_runbook=first,
            runbook=runbook,
        )
    # Outside the window, or in another team: not counted in the 30 days.
    respond(team, trainee, primary, at=now - timedelta(days=40), ack=5, first_runbook=5)
    Membership.objects.create(user=trainee, team=other_team, role=Membership.Role.MEMBER)
    respond(other_team, trainee, outsider, at=now - timedelta(days=1), ack=1)
    # Drills: 30 s and 90 s to acknowledge (median 1:00), one runbook at 45 s.
    scenario = scenario_of(team, lead)
    run_drill(scenario, trainee, lead, at=now - timedelta(days=5), ack=30)
    run_drill(
        scenario,
        trainee,
        lead,
        at=now - timedelta(days=6),
        ack=90,
        first_runbook=45,
        runbook=runbook,
    )
    run_drill(scenario, trainee, lead, at=now - timedelta(days=45), ack=3)

    with CaptureQueriesContext(connection) as queries:
        records = practice.response_records(
            team.pk, {trainee.pk: now - timedelta(weeks=8)}, now=now, tz=team.tz
        )
    assert len(queries) == 1
    record = records[trainee.pk]
    assert record.live == practice.Times(
        count=4, median_ack=timedelta(minutes=2), median_first_runbook=timedelta(seconds=195)
    )
    assert record.drills == practice.Times(
        count=2, median_ack=timedelta(minutes=1), median_first_runbook=timedelta(seconds=45)
    )
    assert (record.live.ack_clock, record.drills.first_runbook_clock) == ("2:00", "0:45")
    # The trend: one entry per week since the onboarding started (9 Mondays),
    # the old responses in their own weeks.
    assert len(record.trend) == 9
    assert [n for _week, _ack, n in record.trend][-2:] != [0, 0]
    assert sum(n for _week, _ack, n in record.trend) == 8  # 5 live and 3 drills in the team
    assert practice.NO_TIMES.ack_clock == "—"


def test_the_dashboard_shows_live_and_drills_side_by_side_without_a_query_per_row(
    client_for, django_assert_max_num_queries, django_user_model, team, lead, primary, trainee
):
    now = timezone.now()
    template = pages_template(team, count=1)
    onboarding = start(trainee, team, template, lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    respond(team, trainee, primary, at=now - timedelta(days=1), ack=60, mark=HANDLED_WELL)
    run_drill(scenario_of(team, lead), trainee, lead, at=now - timedelta(days=2), ack=30)
    url = reverse("readiness:dashboard", args=[team.slug])
    client = client_for(lead)
    client.get(url)
    with CaptureQueriesContext(connection) as one_row:
        client.get(url)

    # More trainees, each with live pages and drills: the same number of queries.
    scenario = scenario_of(team, lead)
    for n in range(3):
        other = django_user_model.objects.create_user(f"trainee{n}")
        Membership.objects.create(user=other, team=team, role=Membership.Role.MEMBER)
        start(other, team, template, lead)
        respond(team, other, primary, at=now - timedelta(days=3), ack=20 * (n + 1))
        run_drill(scenario, other, lead, at=now - timedelta(days=4), ack=40)
    with django_assert_max_num_queries(len(one_row)):
        page_text = client.get(url).text
    assert len(one_row) <= 24
    row = page_text[
        page_text.index(f'<a href="{onboarding.get_absolute_url()}">trainee</a></th>') :
    ]
    row = row[: row.index("</tr>")]
    assert (
        '<span class="pair pair--ack"><span class="pair__live">1:00</span>'
        '<span class="pair__sep" aria-hidden="true">/</span>'
        '<span class="pair__drills">0:30</span></span>'
    ) in row
    assert '<span class="pair__live">1</span>' in row  # one live page in the 30 days
    assert 'class="trend"' in row
    assert 'data-label="Median time to acknowledge (live / drills)"' in row
    # The live page handled well completes the trainee's item: the row says ready.
    assert "badge--ready" in row
    assert "Pages, last 30 days" in page_text


def test_the_primarys_review_moves_the_stored_readiness_in_its_transaction(
    team, lead, primary, trainee
):
    """Through the live page's own review, with the listener readiness registers."""
    from oncall.drills import live, running

    # No registration here: ReadinessConfig.ready() registers the listener.
    onboarding = start(trainee, team, pages_template(team, count=1), lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    at = timezone.now() - timedelta(hours=1)
    shift = shift_of(team, trainee, primary, at=at - timedelta(hours=1))
    occurrence = page(team, at=at)

    with pytest.raises(running.DrillError):
        live.review(shift=shift, occurrence=occurrence, by=trainee, mark=HANDLED_WELL)
    live.review(shift=shift, occurrence=occurrence, by=primary, mark=NEEDS_WORK, note="Slow ack")
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done) == (Onboarding.State.IN_PROGRESS, 1)

    live.review(shift=shift, occurrence=occurrence, by=primary, mark=HANDLED_WELL)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done) == (Onboarding.State.READY, 2)
