"""Readiness from demonstrated skill: drill items count drills a game master graded pass."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oncall.drills import running
from oncall.drills.models import Drill, ResponseEvent
from oncall.drills.record import store_scenario
from oncall.drills.steps import check_steps
from oncall.readiness import gate, practice
from oncall.readiness.models import ChecklistTemplate, Kind, Onboarding, TemplateItem
from oncall.readiness.progress import ReadinessError, tick_item
from oncall.runbooks.models import Runbook
from oncall.teams.models import Membership
from tests.test_readiness_support import start

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)

STEPS = [
    {
        "kind": "fired",
        "offset": 0,
        "alertname": "PaymentsApiHighErrorRate",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "5xx above 5%"},
        "runbook": "payments/errors",
    },
]


@pytest.fixture
def runbook(team):
    return Runbook.objects.create(slug="payments/errors", title="Payments API errors", team=team)


def scenario_of(team, by):
    return store_scenario(team=team, title="Payments outage", specs=check_steps(STEPS), by=by)


@pytest.fixture
def scenario(team, lead, runbook):
    return scenario_of(team, lead)


def drill_template(team, *, count: int = 2, signoff: bool = False) -> ChecklistTemplate:
    """A checklist of one task and one drill item."""
    template = ChecklistTemplate.objects.create(team=team, name="Drills")
    TemplateItem.objects.create(
        template=template, section="Access", title="Laptop", kind=Kind.TASK, order=0
    )
    TemplateItem.objects.create(
        template=template,
        section="Practice",
        title="Wheel of Misfortune",
        kind=Kind.DRILL,
        count=count,
        needs_signoff=signoff,
        order=10,
    )
    return template


def run_drill(
    scenario,
    trainee,
    game_master,
    *,
    at=T0,
    grade=Drill.Grade.PASS,
    ack=None,
    first_runbook=None,
    runbook=None,
):
    """A drill through the real workflows: started at ``at``, its page fired then,
    acknowledged and a runbook opened ``ack`` / ``first_runbook`` seconds later,
    ended and (unless ``grade`` is None) graded."""
    drill = running.schedule_drill(
        scenario=scenario, trainee=trainee, game_master=game_master, now=at
    )
    for step in scenario.steps.all():
        running.play_step(drill, step, now=at + timedelta(seconds=step.offset))
    if ack is not None:
        running.acknowledge(drill=drill, by=trainee, now=at + timedelta(seconds=ack))
    if first_runbook is not None:
        running.open_runbook(drill=drill, by=trainee, runbook=runbook)
        ResponseEvent.objects.filter(
            response__drill=drill, kind=ResponseEvent.Kind.RUNBOOK_OPENED
        ).update(at=at + timedelta(seconds=first_runbook))
    running.finish(drill=drill, by=game_master, now=at + timedelta(minutes=20))
    if grade is not None:
        reason = "Missed the deploy" if grade == Drill.Grade.NOT_YET else ""
        running.grade(
            drill=drill,
            by=game_master,
            result=grade,
            reason=reason,
            now=at + timedelta(minutes=30),
        )
    drill.refresh_from_db()
    return drill


def drill_item(onboarding):
    return onboarding.items.get(kind=Kind.DRILL)


def test_a_drill_item_counts_only_drills_passed_by_a_game_master_in_that_team(
    team, other_team, lead, primary, trainee, outsider, scenario
):
    onboarding = start(trainee, team, drill_template(team, count=2), lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    # None of these counts: graded not yet, ended but never graded, cancelled
    # before it started, passed in another team, passed by another trainee.
    run_drill(scenario, trainee, lead, grade=Drill.Grade.NOT_YET)
    run_drill(scenario, trainee, lead, grade=None)
    later = running.schedule_drill(
        scenario=scenario, trainee=trainee, game_master=lead, at=T0 + timedelta(days=1), now=T0
    )
    running.finish(drill=later, by=lead, now=T0)
    Membership.objects.create(user=trainee, team=other_team, role=Membership.Role.MEMBER)
    run_drill(scenario_of(other_team, outsider), trainee, outsider)
    Membership.objects.filter(user=primary, team=team).update(role=Membership.Role.LEAD)
    run_drill(scenario, primary, lead)
    assert Drill.objects.filter(state=Drill.State.CANCELLED).count() == 1

    result = gate.evaluate(onboarding)
    status = result.status(drill_item(onboarding))
    assert (status.drills_done, status.done, result.passed) == (0, False, False)
    assert "2 more drills to pass (0 of 2)" in result.explanation

    run_drill(scenario, trainee, primary)  # a lead other than the game master of the rest
    result = gate.evaluate(onboarding)
    assert result.status(drill_item(onboarding)).drills_done == 1
    assert result.missing == ["1 more drill to pass (1 of 2)"]

    run_drill(scenario, trainee, lead)
    result = gate.evaluate(onboarding)
    assert (result.status(drill_item(onboarding)).done, result.passed) == (True, True)
    # A tick on the item by some other way (an admin edit) counts for nothing.
    item = drill_item(onboarding)
    TemplateItem.objects.filter(kind=Kind.DRILL).update(count=3)
    item.count = 3
    item.done_at = T0
    item.save(update_fields=["count", "done_at"])
    assert gate.evaluate(onboarding).status(item).done is False


def test_grading_a_drill_pass_moves_the_stored_readiness_in_the_same_transaction(
    team, lead, trainee, scenario
):
    onboarding = start(trainee, team, drill_template(team, count=1), lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done) == (Onboarding.State.IN_PROGRESS, 1)

    drill = run_drill(scenario, trainee, lead, grade=None)
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.IN_PROGRESS  # ended is not passed

    running.grade(drill=drill, by=lead, result=Drill.Grade.PASS)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done, onboarding.required_total) == (
        Onboarding.State.READY,
        2,
        2,
    )
    assert onboarding.ready_at is not None


def test_a_not_yet_grade_leaves_the_stored_readiness_in_progress(team, lead, trainee, scenario):
    onboarding = start(trainee, team, drill_template(team, count=1), lead)
    tick_item(item=onboarding.items.get(kind=Kind.TASK), by=trainee)
    run_drill(scenario, trainee, lead, grade=Drill.Grade.NOT_YET)
    onboarding.refresh_from_db()
    assert (onboarding.state, onboarding.required_done) == (Onboarding.State.IN_PROGRESS, 1)


def test_nobody_ticks_a_drill_item_by_hand(client_for, team, lead, trainee):
    onboarding = start(trainee, team, drill_template(team, count=1), lead)
    item = drill_item(onboarding)
    with pytest.raises(ReadinessError, match="Drills count once a game master grades them pass"):
        tick_item(item=item, by=trainee)
    with pytest.raises(ReadinessError):
        tick_item(item=item, by=lead)

    url = reverse("readiness:item", args=[onboarding.pk, item.pk])
    answer = client_for(trainee).post(url, {"action": "tick"}, follow=True)
    assert "Drills count once a game master grades them pass." in answer.text
    item.refresh_from_db()
    assert item.done_at is None
    onboarding.refresh_from_db()
    assert onboarding.required_done == 0

    page = client_for(trainee).get(onboarding.get_absolute_url()).text
    assert f'action="{url}"' not in page  # no tick box: a count instead
    assert "Drills passed: 0/1" in page


@pytest.fixture
def graded_history(team, lead, trainee, scenario, runbook):
    """Six graded drills, oldest first. The oldest is slow (an hour to
    acknowledge) and falls outside the last five."""
    acks = [3600, 60, 120, 180, 240, 300]
    runbooks = [7200, 100, 200, 300, None, 500]
    grades = ["pass", "pass", "not_yet", "pass", "not_yet", "pass"]
    for n, (ack, first, grade) in enumerate(zip(acks, runbooks, grades, strict=True)):
        run_drill(
            scenario,
            trainee,
            lead,
            at=T0 + timedelta(days=n),
            grade=grade,
            ack=ack,
            first_runbook=first,
            runbook=runbook,
        )


def test_the_record_is_the_passed_count_and_the_medians_of_the_last_five(
    team, trainee, graded_history
):
    with CaptureQueriesContext(connection) as queries:
        record = practice.drill_record(team.pk, trainee.pk)
    assert len(queries) == 1
    assert record.passed == 4
    assert record.graded == 5
    # Last five: 60, 120, 180, 240, 300 s (all six would give 3:30).
    assert record.median_ack == timedelta(minutes=3)
    # Last five with a runbook opened: 100, 200, 300, 500 s.
    assert record.median_first_runbook == timedelta(seconds=250)
    assert (record.ack_clock, record.first_runbook_clock) == ("3:00", "4:10")
    assert practice.drill_record(team.pk, 0) == practice.NO_DRILLS
    assert practice.NO_DRILLS.ack_clock == "—"


def test_the_checklist_shows_drills_passed_and_the_medians(
    client_for, django_assert_max_num_queries, team, lead, trainee, graded_history
):
    onboarding = start(trainee, team, drill_template(team, count=5), lead)
    client = client_for(trainee)
    client.get(onboarding.get_absolute_url())  # warm the session and the caches
    with django_assert_max_num_queries(14):
        page = client.get(onboarding.get_absolute_url()).text
    assert 'data-drills-passed="4"' in page
    assert "Median time to acknowledge: <strong data-median-ack>3:00</strong>" in page
    assert "Median time to first runbook: <strong data-median-first-runbook>4:10</strong>" in page
    assert "Drills passed: 4/5" in page
    assert "1 more drill to pass (4 of 5)" in page


def test_the_dashboard_shows_each_trainees_drills_without_a_query_per_row(
    client_for,
    django_assert_max_num_queries,
    django_user_model,
    team,
    lead,
    primary,
    trainee,
    scenario,
    graded_history,
):
    template = drill_template(team, count=1)
    start(trainee, team, template, lead)
    url = reverse("readiness:dashboard", args=[team.slug])
    client = client_for(lead)
    client.get(url)
    with CaptureQueriesContext(connection) as one_row:
        client.get(url)

    # More trainees, each with drills: the same number of queries.
    for n in range(3):
        other = django_user_model.objects.create_user(f"trainee{n}")
        Membership.objects.create(user=other, team=team, role=Membership.Role.MEMBER)
        start(other, team, template, lead)
        run_drill(scenario, other, lead, at=T0 + timedelta(days=10 + n), ack=30 * (n + 1))
    with django_assert_max_num_queries(len(one_row)):
        page = client.get(url).text
    assert len(one_row) <= 22
    row = page[page.index(f'href="/onboardings/{Onboarding.objects.get(engineer=trainee).pk}/"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="cell-drills" data-label="Drills passed">4</td>' in row
    assert "Median time to acknowledge" in page
    assert '<td class="cell-drills" data-label="Drills passed">1</td>' in page


def test_the_gate_reads_drills_once_and_not_at_all_when_given(team, lead, trainee, scenario):
    onboarding = start(trainee, team, drill_template(team, count=1), lead)
    items = list(onboarding.items.select_related("runbook"))
    with CaptureQueriesContext(connection) as queries:
        gate.evaluate(onboarding, items=items, shift_counts={}, drills_passed=1)
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        result = gate.evaluate(onboarding, items=items, shift_counts={})
    assert len(queries) == 1
    assert result.status(drill_item(onboarding)).drills_done == 0


def test_a_drill_item_count_is_between_1_and_100(client_for, team, lead):
    from oncall.readiness.forms import TemplateItemForm

    template = drill_template(team)
    data = {"section": "Practice", "title": "Drills", "kind": "drill", "count": 101}
    form = TemplateItemForm(data, template=template)
    assert not form.is_valid()
    assert form.errors["count"] == ["Between 1 and 100 drills."]
    form = TemplateItemForm({**data, "count": 3}, template=template)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["count"] == 3


def test_the_weekly_digest_counts_the_drills_graded_this_week(
    team, lead, primary, trainee, scenario
):
    from oncall.reminders.models import Reminder
    from oncall.reminders.plan import plan_reminders

    Membership.objects.filter(user=primary, team=team).update(role=Membership.Role.LEAD)
    # Monday 2 November 2026, 09:00 in Tokyo is the digest; the week before it counts.
    monday = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    run_drill(scenario, trainee, lead, at=monday - timedelta(days=10))  # the week before
    run_drill(scenario, trainee, lead, at=monday - timedelta(days=3))
    run_drill(scenario, trainee, primary, at=monday - timedelta(days=2), grade="not_yet")
    run_drill(scenario, trainee, lead, at=monday - timedelta(days=1), grade=None)
    plan_reminders(now=monday - timedelta(hours=5))  # Monday morning in Tokyo
    digest = Reminder.objects.get(kind="weekly_digest", recipient=lead)
    assert "2 drills graded this week, 1 passed." in digest.body
    assert digest.payload["drills_graded_this_week"] == 2
    assert digest.payload["drills_passed_this_week"] == 1
