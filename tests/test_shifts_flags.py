"""Runbooks flagged in debriefs reach their owner: on the page, in a review reminder, until dealt with."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall.reminders.models import Reminder
from oncall.reminders.plan import plan_reminders
from oncall.shifts.flags import flags_panel
from tests.test_readiness_support import make_runbook, new_revision
from tests.test_shifts import make_shift


@pytest.fixture
def runbook(team):
    runbook = make_runbook(team, slug="payments-db/failover", title="Database failover")
    runbook.owner = "primary"
    runbook.save()
    return runbook


def flag(team, trainee, primary, runbook, gap: str, days_ago: int = 1):
    shift = make_shift(team, trainee, primary, timezone.now() - timedelta(days=days_ago, hours=9))
    shift.write_debrief(
        pages_seen="", made_sense="", open_questions="", runbook_gaps=gap, runbooks=[runbook]
    )
    return shift


def test_it_shows_flags_to_the_owner_and_leads_only(
    client_for, team, trainee, primary, lead, runbook
):
    flag(team, trainee, primary, runbook, "Step 3 fails on staging", days_ago=2)
    flag(team, trainee, primary, runbook, "No rollback step", days_ago=1)
    for who in (primary, lead):
        page = client_for(who).get(runbook.get_absolute_url()).content.decode()
        assert "Flagged in 2 debriefs" in page
        assert "Step 3 fails on staging" in page and "No rollback step" in page
    assert "Flagged in" not in client_for(trainee).get(runbook.get_absolute_url()).content.decode()


def test_it_brings_the_review_forward_for_the_owner(team, trainee, primary, runbook):
    flag(team, trainee, primary, runbook, "Step 3 fails on staging")
    plan_reminders()
    review = Reminder.objects.get(kind=Reminder.Kind.REVIEW_DUE, recipient=primary)
    assert "flagged in 1 debrief" in review.subject
    assert "Step 3 fails on staging" in review.body


def test_it_clears_flags_on_a_new_revision_or_a_dismissal(
    client_for, team, trainee, primary, lead, runbook
):
    flag(team, trainee, primary, runbook, "Step 3 fails on staging")
    new_revision(runbook, "# Failover\n\nStep 3 fixed.\n")
    assert "Flagged in" not in client_for(primary).get(runbook.get_absolute_url()).content.decode()
    plan_reminders()
    assert not Reminder.objects.filter(kind=Reminder.Kind.REVIEW_DUE, state="pending").exists()

    flag(team, trainee, primary, runbook, "Still confusing", days_ago=0)
    dismiss = reverse("shifts:dismiss_flags", args=[runbook.pk])
    assert client_for(trainee).post(dismiss, {"note": "no"}).status_code == 404
    client_for(primary).post(dismiss, {"note": ""})  # a note is needed
    assert (
        "Flagged in 1 debrief"
        in client_for(primary).get(runbook.get_absolute_url()).content.decode()
    )
    client_for(primary).post(dismiss, {"note": "Rewrote the intro"})
    assert "Flagged in" not in client_for(primary).get(runbook.get_absolute_url()).content.decode()


def test_the_flags_panel_pins_its_cost(
    rf, team, trainee, primary, runbook, django_assert_max_num_queries
):
    for n in range(5):
        flag(team, trainee, primary, runbook, f"gap {n}", days_ago=n + 1)
    request = rf.get(runbook.get_absolute_url())
    request.user = trainee
    with django_assert_max_num_queries(1):  # is the reader a lead of the team?
        assert flags_panel(request, runbook) == ""
    request.user = primary
    with django_assert_max_num_queries(3):  # owner by name; when settled; the flags
        assert "Flagged in 5 debriefs" in flags_panel(request, runbook)
