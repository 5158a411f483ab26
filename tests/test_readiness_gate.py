"""The readiness gate and the workflows that keep Onboarding.state in line with it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oncall.readiness import gate
from oncall.readiness.models import Activity, Onboarding, TemplateItem
from oncall.readiness.progress import (
    ReadinessError,
    clear_onboarding,
    reopen_onboarding,
    sign_off_item,
    tick_item,
    untick_item,
)
from oncall.readiness.reconcile import on_revisions_change, reconcile_all
from oncall.shifts.models import ShadowShift
from tests.test_readiness_support import (
    done_shifts,
    item,
    make_runbook,
    make_template,
    new_revision,
    read_runbook,
    start,
)


@pytest.fixture
def runbook(team):
    return make_runbook(team, title="Payments API error rate high")


@pytest.fixture
def onboarding(team, trainee, lead, runbook):
    return start(trainee, team, make_template(team, runbook=runbook), lead)


def finish_everything(onboarding, *, team, trainee, primary, lead, runbook):
    done_shifts(team, trainee, primary, n=3)
    done_shifts(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW, n=2)
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    tick_item(item=item(onboarding, "Escalation policy"), by=trainee)
    read_runbook(trainee, runbook)
    sign_off_item(item=item(onboarding, "Escalation policy"), by=lead)
    onboarding.refresh_from_db()


def test_it_starts_in_progress_with_nothing_done(onboarding):
    result = gate.evaluate(onboarding)
    assert not result.passed
    assert (result.done, result.total) == (0, 5)
    assert result.percent == 0
    assert onboarding.state == Onboarding.State.IN_PROGRESS
    assert onboarding.activities.get().verb == Activity.Verb.START


def test_it_passes_when_every_required_item_is_complete(
    onboarding, team, trainee, primary, lead, runbook
):
    finish_everything(
        onboarding, team=team, trainee=trainee, primary=primary, lead=lead, runbook=runbook
    )
    result = gate.evaluate(onboarding)
    assert result.passed
    assert result.missing == []
    assert result.percent == 100
    # The optional item was never ticked, and does not hold the gate.
    assert not result.status(item(onboarding, "Optional reading")).done
    assert onboarding.state == Onboarding.State.READY
    assert onboarding.ready_at is not None


def test_it_explains_what_is_missing_in_one_sentence(
    onboarding, team, trainee, primary, lead, runbook
):
    done_shifts(team, trainee, primary, n=2)
    done_shifts(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW, n=2)
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    tick_item(item=item(onboarding, "Escalation policy"), by=trainee)
    read_runbook(trainee, runbook)
    new_revision(runbook, "# Second\n\nCheck the new dashboard.\n")

    result = gate.evaluate(onboarding)

    assert not result.passed
    assert result.explanation == (
        "1 more shadow shift (2 of 3); 1 runbook changed since read; sign-off on “Escalation policy”"
    )
    assert (result.shadow_done, result.shadow_required) == (2, 3)
    assert (result.reverse_done, result.reverse_required) == (2, 2)
    assert result.awaiting_signoff == 1
    assert result.changed_since_read == 1


def test_it_counts_only_done_shifts_of_the_kind_in_the_team(
    onboarding, team, other_team, trainee, primary
):
    done_shifts(team, trainee, primary, n=2, state=ShadowShift.State.SCHEDULED)
    done_shifts(team, trainee, primary, n=1, state=ShadowShift.State.CANCELLED)
    done_shifts(other_team, trainee, primary, n=3)
    done_shifts(team, trainee, primary, kind=ShadowShift.Kind.REVERSE_SHADOW, n=3)
    done_shifts(team, trainee, primary, n=1)

    result = gate.evaluate(onboarding)

    shadow = result.status(item(onboarding, "Shadow shifts"))
    reverse = result.status(item(onboarding, "Reverse-shadow shifts"))
    assert (shadow.shifts_done, shadow.done) == (1, False)
    assert (reverse.shifts_done, reverse.done) == (3, True)
    assert "2 more shadow shifts (1 of 3)" in result.missing


def test_it_needs_a_signoff_where_the_item_asks_for_one(onboarding, trainee, lead):
    escalation = item(onboarding, "Escalation policy")
    tick_item(item=escalation, by=trainee)
    result = gate.evaluate(onboarding)
    assert result.status(escalation).awaiting_signoff
    assert "sign-off on “Escalation policy”" in result.missing

    sign_off_item(item=item(onboarding, "Escalation policy"), by=lead)

    status = gate.evaluate(onboarding).status(escalation)
    assert status.complete and not status.awaiting_signoff


def test_it_counts_progress_as_required_items_complete_over_required_items(
    onboarding, trainee, lead
):
    # 5 required items: laptop, escalation (needs a sign-off), the runbook, two shift items.
    assert gate.evaluate(onboarding).percent == 0
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    assert gate.evaluate(onboarding).percent == 20
    tick_item(item=item(onboarding, "Escalation policy"), by=trainee)
    assert gate.evaluate(onboarding).percent == 20  # waits for the sign-off
    sign_off_item(item=item(onboarding, "Escalation policy"), by=lead)
    result = gate.evaluate(onboarding)
    assert (result.done, result.total, result.percent) == (2, 5, 40)
    onboarding.refresh_from_db()
    assert (onboarding.required_done, onboarding.required_total, onboarding.percent) == (2, 5, 40)


def test_it_refuses_a_signoff_before_the_item_is_done(onboarding, lead):
    with pytest.raises(ReadinessError, match="not done yet"):
        sign_off_item(item=item(onboarding, "Escalation policy"), by=lead)
    assert item(onboarding, "Escalation policy").signed_off_at is None


def test_it_refuses_a_signoff_on_your_own_checklist(team, lead):
    template = make_template(team)
    own = start(lead, team, template, lead)
    tick_item(item=item(own, "Escalation policy"), by=lead)
    with pytest.raises(ReadinessError, match="Someone else"):
        sign_off_item(item=item(own, "Escalation policy"), by=lead)


def test_it_does_not_let_shift_items_be_ticked_by_hand(onboarding, trainee):
    with pytest.raises(ReadinessError):
        tick_item(item=item(onboarding, "Shadow shifts"), by=trainee)
    assert item(onboarding, "Shadow shifts").done_at is None


def test_it_withdraws_signoff_and_readiness_on_untick(
    onboarding, team, trainee, primary, lead, runbook
):
    finish_everything(
        onboarding, team=team, trainee=trainee, primary=primary, lead=lead, runbook=runbook
    )
    assert onboarding.state == Onboarding.State.READY

    untick_item(item=item(onboarding, "Escalation policy"), by=trainee, note="Not sure after all")

    onboarding.refresh_from_db()
    escalation = item(onboarding, "Escalation policy")
    assert onboarding.state == Onboarding.State.IN_PROGRESS
    assert onboarding.ready_at is None
    assert escalation.signed_off_at is None and escalation.done_at is None
    assert escalation.note == "Not sure after all"
    assert onboarding.activities.filter(verb=Activity.Verb.UNTICK, actor=trainee).exists()


def test_it_reads_a_runbook_at_its_current_revision(onboarding, trainee, runbook):
    read_runbook(trainee, runbook)
    read = item(onboarding, runbook.title)
    assert read.revision_read_id == runbook.current_revision_id
    assert gate.evaluate(onboarding).status(read).done


def test_it_reopens_a_read_item_when_the_runbook_gets_a_new_revision(
    onboarding, team, trainee, primary, lead, runbook
):
    finish_everything(
        onboarding, team=team, trainee=trainee, primary=primary, lead=lead, runbook=runbook
    )
    first = runbook.current_revision
    second = new_revision(runbook, "# Second\n\nA new step.\n")

    # The new revision reconciled the onboarding in its own transaction.
    onboarding.refresh_from_db()
    read = item(onboarding, runbook.title)
    status = gate.evaluate(onboarding).status(read)
    assert status.changed_since_read and not status.done
    assert onboarding.state == Onboarding.State.IN_PROGRESS
    assert read.diff_url() == (f"/runbooks/{runbook.slug}/-/diff/?from={first.number}&to=2")
    notes = onboarding.activities.filter(verb=Activity.Verb.REREAD_NEEDED)
    assert notes.count() == 1
    assert notes.get().item_id == read.pk

    # Once per revision: reconciling again says nothing new; a third revision does.
    assert reconcile_all() == (1, 0)
    assert notes.count() == 1
    new_revision(runbook, "# Third\n")
    assert notes.count() == 2

    # Reading the current revision closes the item and the gate passes again.
    read_runbook(trainee, runbook)
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.READY
    assert item(onboarding, runbook.title).revision_read_id != second.pk


def test_it_leaves_last_activity_alone_when_only_a_runbook_changed(onboarding, trainee, runbook):
    read_runbook(trainee, runbook)
    long_ago = timezone.now() - timedelta(days=9)
    Onboarding.objects.filter(pk=onboarding.pk).update(last_activity_at=long_ago)
    new_revision(runbook, "# Changed\n")
    onboarding.refresh_from_db()
    assert onboarding.last_activity_at == long_ago
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    onboarding.refresh_from_db()
    assert onboarding.last_activity_at > long_ago


def test_it_reconciles_only_onboardings_that_read_the_changed_runbook(
    onboarding, trainee, runbook, team, django_user_model, lead
):
    read_runbook(trainee, runbook)
    other = make_runbook(team, slug="payments-db/disk-full")
    assert on_revisions_change([other.pk]) == 0
    assert on_revisions_change([runbook.pk]) == 1


def test_it_clears_only_when_the_gate_passes(onboarding, team, trainee, primary, lead, runbook):
    with pytest.raises(ReadinessError, match="Not ready yet"):
        clear_onboarding(onboarding=onboarding, by=lead)
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.IN_PROGRESS and onboarding.cleared_at is None

    finish_everything(
        onboarding, team=team, trainee=trainee, primary=primary, lead=lead, runbook=runbook
    )
    with pytest.raises(ReadinessError, match="Someone else"):
        clear_onboarding(onboarding=onboarding, by=trainee)

    clear_onboarding(onboarding=onboarding, by=lead, note="Welcome to the rotation")

    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.CLEARED
    assert onboarding.cleared_by == lead
    assert onboarding.cleared_at is not None
    clearing = onboarding.activities.get(verb=Activity.Verb.CLEAR)
    assert (clearing.actor, clearing.note) == (lead, "Welcome to the rotation")


def test_it_keeps_a_cleared_onboarding_cleared_until_a_lead_reopens_it(
    onboarding, team, trainee, primary, lead, runbook
):
    finish_everything(
        onboarding, team=team, trainee=trainee, primary=primary, lead=lead, runbook=runbook
    )
    clear_onboarding(onboarding=onboarding, by=lead)
    new_revision(runbook, "# Changed\n")
    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.CLEARED
    assert onboarding.activities.filter(verb=Activity.Verb.REREAD_NEEDED).exists()

    reopen_onboarding(onboarding=onboarding, by=lead, note="Runbook rewritten")

    onboarding.refresh_from_db()
    assert onboarding.state == Onboarding.State.IN_PROGRESS
    assert onboarding.cleared_by is None and onboarding.cleared_at is None
    assert onboarding.activities.filter(verb=Activity.Verb.REOPEN, actor=lead).exists()


def test_it_does_not_rewrite_started_onboardings_when_the_template_changes(team, trainee, lead):
    template = make_template(team)
    onboarding = start(trainee, team, template, lead)
    TemplateItem.objects.filter(template=template, title="Laptop and VPN").update(
        title="Laptop, VPN and hardware key", needs_signoff=True
    )
    TemplateItem.objects.filter(template=template, title="Optional reading").delete()
    TemplateItem.objects.create(template=template, section="New", title="Brand new", order=99)

    titles = set(onboarding.items.values_list("title", flat=True))
    assert "Laptop and VPN" in titles
    assert "Optional reading" in titles
    assert "Brand new" not in titles
    assert not item(onboarding, "Laptop and VPN").needs_signoff


def test_it_lists_the_next_three_things_to_do_in_checklist_order(onboarding, trainee):
    tick_item(item=item(onboarding, "Laptop and VPN"), by=trainee)
    titles = [s.item.title for s in gate.evaluate(onboarding).next_steps(3)]
    assert titles == ["Escalation policy", "Payments API error rate high", "Shadow shifts"]
