"""Planning survives any row: one poisoned shift, onboarding, item or runbook fails alone.

Before, a runbook with ``review_every: 4000000`` and an owner made the planner
raise, and no reminder of any kind was planned for anyone.
"""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from oncall.readiness.models import ItemProgress, Onboarding
from oncall.readiness.reconcile import reconcile
from oncall.reminders.models import Reminder
from oncall.reminders.plan import _digest_content, plan_reminders
from oncall.runbooks.models import Revision, Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Profile
from tests.conftest import make_user

Kind = Reminder.Kind


@pytest.fixture
def ghost(django_user_model, team):
    """A member whose profile row is gone: every reminder about them raises when built."""
    user = make_user(django_user_model, "ghost")
    Membership.objects.create(user=user, team=team)
    Profile.objects.filter(user=user).delete()
    return django_user_model.objects.get(pk=user.pk)


def shift(team, trainee, primary, starts_in: timedelta) -> ShadowShift:
    starts = timezone.now() + starts_in
    return ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        starts_at=starts,
        ends_at=starts + timedelta(hours=8),
        time_zone="Asia/Tokyo",
    )


def overdue_onboarding(team, engineer, lead) -> Onboarding:
    onboarding = Onboarding.objects.create(
        engineer=engineer,
        team=team,
        lead=lead,
        target_date=timezone.localdate() - timedelta(days=3),
        last_activity_at=timezone.now() - timedelta(days=10),
    )
    ItemProgress.objects.create(onboarding=onboarding, section="Access", title="VPN")
    reconcile(onboarding)
    return onboarding


def reviewed_runbook(team, slug: str, owner: str, review_every: int) -> Runbook:
    runbook = Runbook.objects.create(
        slug=slug,
        title=slug,
        team=team,
        owner=owner,
        review_every=review_every,
        last_reviewed=date(2026, 1, 1),
    )
    runbook.current_revision = Revision.objects.create(
        runbook=runbook, number=1, content_hash=slug, markdown="", html=""
    )
    runbook.save()
    return runbook


def test_it_plans_everyone_elses_reminders_around_a_poisoned_row_of_each_kind(
    team, trainee, primary, lead, ghost
):
    # Healthy rows: one of each kind.
    shift(team, trainee, primary, timedelta(minutes=30))
    overdue_onboarding(team, trainee, lead)
    reviewed_runbook(team, "payments/psp", owner="primary", review_every=30)
    # Poisoned rows: a shift, an onboarding and its items, and a runbook.
    shift(team, ghost, primary, timedelta(days=3))
    overdue_onboarding(team, ghost, lead)
    reviewed_runbook(team, "payments/forever", owner="lead", review_every=4_000_000)

    result = plan_reminders()

    assert result.skipped >= 3
    planned = {(r.kind, r.recipient.username) for r in Reminder.objects.all()}
    assert (Kind.SHIFT_UPCOMING, "trainee") in planned
    assert (Kind.SHIFT_UPCOMING, "primary") in planned
    assert (Kind.ITEM_OVERDUE, "trainee") in planned
    assert (Kind.ONBOARDING_STALLED, "trainee") in planned
    assert (Kind.REVIEW_DUE, "primary") in planned
    assert not any(name == "ghost" for _kind, name in planned)


def test_it_keeps_pending_reminders_of_a_kind_that_failed_this_round(team, trainee, primary):
    shift(team, trainee, primary, timedelta(minutes=30))
    plan_reminders()
    pending = set(Reminder.objects.values_list("pk", flat=True))
    assert pending

    # The trainee's profile goes missing: their shift cannot be planned this round,
    # but nobody can say its reminders are unwanted, so they are not cancelled.
    Profile.objects.filter(user=trainee).delete()
    result = plan_reminders()

    assert result.skipped == 1
    states = set(Reminder.objects.filter(pk__in=pending).values_list("state", flat=True))
    assert states == {Reminder.State.PENDING}


def test_it_survives_a_runbook_review_date_beyond_the_calendar(team, lead):
    reviewed_runbook(team, "payments/forever", owner="lead", review_every=4_000_000)
    reviewed_runbook(team, "payments/psp", owner="lead", review_every=30)
    plan_reminders()  # does not raise, and the healthy runbook's review is planned
    assert Reminder.objects.filter(kind=Kind.REVIEW_DUE).count() == 1
    # The weekly digest of the same team still counts what it can.
    _subject, body, payload = _digest_content(team, timezone.now())
    assert payload["runbooks_due_for_review"] == 1  # the healthy one
