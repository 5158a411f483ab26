"""Workflows that change an onboarding: start, tick, read, sign off, clear, reopen.

Each one records an ``Activity`` (who, when) and brings ``Onboarding.state``
back in line with the gate, so the stored state that the dashboard and the
reminders read is never stale after someone acts.
"""

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.readiness import gate
from oncall.readiness.models import (
    SHIFT_KINDS,
    Activity,
    ChecklistTemplate,
    ItemProgress,
    Kind,
    Onboarding,
    TemplateItem,
)
from oncall.runbooks.models import Runbook

Verb = Activity.Verb


class ReadinessError(Exception):
    """An action the state of the onboarding does not allow; the message says why."""


def _items_for_gate(onboarding: Onboarding):
    return list(onboarding.items.select_related("runbook", "signed_off_by", "done_by"))


@transaction.atomic
def start_onboarding(
    *,
    engineer,
    team,
    template: ChecklistTemplate,
    started_by,
    mentor=None,
    lead=None,
    target_date=None,
) -> Onboarding:
    """Start an onboarding: copy the template's items as they are today."""
    now = timezone.now()
    onboarding = Onboarding.objects.create(
        engineer=engineer,
        team=team,
        template=template,
        mentor=mentor,
        lead=lead or started_by,
        started_at=now,
        target_date=target_date,
        last_activity_at=now,
    )
    ItemProgress.objects.bulk_create(
        ItemProgress(
            onboarding=onboarding,
            template_item=item,
            section=item.section,
            title=item.title,
            description=item.description,
            kind=item.kind,
            required=item.required,
            needs_signoff=item.needs_signoff,
            runbook_id=item.runbook_id,
            count=item.count,
            order=item.order,
        )
        for item in TemplateItem.objects.filter(template=template)
    )
    onboarding.log(Verb.START, actor=started_by, at=now)
    refresh_onboarding(onboarding)
    return onboarding


def refresh_onboarding(onboarding: Onboarding, *, items=None, shift_counts=None):
    """Evaluate the gate, note runbooks changed since read, and store the state.

    1. Evaluate the gate on the current items and done shifts.
    2. For every read item whose runbook moved on since it was read, record a
       ``reread_needed`` activity once per new revision.
    3. Set the state from the gate (a cleared onboarding stays cleared).
    Returns the gate's result.
    """
    if items is None:
        items = _items_for_gate(onboarding)
    result = gate.evaluate(onboarding, items=items, shift_counts=shift_counts)
    for status in result.statuses.values():
        if not status.changed_since_read:
            continue
        item = status.item
        current = item.runbook.current_revision_id
        if item.reread_noted_revision_id == current:
            continue
        item.reread_noted_revision_id = current
        item.save(update_fields=["reread_noted_revision"])
        onboarding.log(Verb.REREAD_NEEDED, item=item, note=item.runbook.title)
    onboarding.set_gate_state(result.passed)
    return result


def refresh_states(*, runbook_ids=None) -> int:
    """Bring every onboarding touched by a runbook change back in line with the gate.

    The runbooks sync moves ``Runbook.current_revision`` without knowing about
    readiness; this finds the read items it left behind (optionally only for
    some runbooks), records ``reread_needed`` once per new revision, and
    re-evaluates those onboardings. Returns how many onboardings were looked at.
    """
    stale = ItemProgress.objects.filter(
        kind=Kind.READ_RUNBOOK,
        revision_read__isnull=False,
        runbook__current_revision__isnull=False,
    ).exclude(revision_read=F("runbook__current_revision"))
    # Already announced for this revision: nothing new to say.
    stale = stale.exclude(
        Q(reread_noted_revision__isnull=False)
        & Q(reread_noted_revision=F("runbook__current_revision"))
    )
    if runbook_ids is not None:
        stale = stale.filter(runbook_id__in=list(runbook_ids))
    onboarding_ids = set(stale.values_list("onboarding_id", flat=True))
    for onboarding in Onboarding.objects.filter(pk__in=onboarding_ids).select_related("team"):
        with transaction.atomic():
            refresh_onboarding(onboarding)
    return len(onboarding_ids)


@transaction.atomic
def tick_item(*, item: ItemProgress, by, note: str = "") -> None:
    """Mark an item done; a runbook item is read at its current revision."""
    if item.kind in SHIFT_KINDS:
        raise ReadinessError(_("Shadow shifts count themselves once a shift is marked done."))
    if item.kind == Kind.READ_RUNBOOK and item.runbook is not None:
        revision = item.runbook.current_revision
        if revision is not None:
            item.mark_read(revision=revision, by=by)
            if note:
                item.set_note(note)
        else:
            item.tick(by=by, note=note)
    else:
        item.tick(by=by, note=note)
    item.onboarding.log(Verb.TICK, actor=by, item=item, note=note)
    refresh_onboarding(item.onboarding)


@transaction.atomic
def untick_item(*, item: ItemProgress, by, note: str = "") -> None:
    if item.kind in SHIFT_KINDS:
        raise ReadinessError(_("Shadow shifts count themselves once a shift is marked done."))
    item.untick()
    if note:
        item.set_note(note)
    item.onboarding.log(Verb.UNTICK, actor=by, item=item, note=note)
    refresh_onboarding(item.onboarding)


@transaction.atomic
def note_item(*, item: ItemProgress, by, note: str) -> None:
    item.set_note(note)
    item.onboarding.log(Verb.NOTE, actor=by, item=item, note=note)


@transaction.atomic
def mark_runbook_read(*, engineer, runbook: Runbook, by) -> int:
    """Mark every checklist item of the engineer's for this runbook as read now.

    Items of cleared onboardings are updated too: a cleared engineer still
    wants to know they are up to date. Returns how many items were marked.
    """
    revision = runbook.current_revision
    if revision is None:
        raise ReadinessError(_("This runbook has no revision to read yet."))
    items = list(
        ItemProgress.objects.filter(
            onboarding__engineer=engineer, kind=Kind.READ_RUNBOOK, runbook=runbook
        ).select_related("onboarding")
    )
    for item in items:
        item.mark_read(revision=revision, by=by)
        item.onboarding.log(
            Verb.TICK,
            actor=by,
            item=item,
            note=_("read revision %(number)d") % {"number": revision.number},
        )
        refresh_onboarding(item.onboarding)
    return len(items)


@transaction.atomic
def sign_off_item(*, item: ItemProgress, by) -> None:
    onboarding = item.onboarding
    if by.pk == onboarding.engineer_id:
        raise ReadinessError(_("Someone else signs off your own checklist."))
    if not item.needs_signoff:
        raise ReadinessError(_("This item does not need a sign-off."))
    if item.signed_off_at is not None:
        raise ReadinessError(_("This item is already signed off."))
    result = gate.evaluate(onboarding, items=_items_for_gate(onboarding))
    if not result.status(item).done:
        raise ReadinessError(_("This item is not done yet, so there is nothing to sign off."))
    item.sign_off(by=by)
    onboarding.log(Verb.SIGN_OFF, actor=by, item=item)
    refresh_onboarding(onboarding)


@transaction.atomic
def clear_onboarding(*, onboarding: Onboarding, by, note: str = "") -> None:
    """Clear an engineer for on-call: only when the gate passes, recorded with who and when."""
    onboarding = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
    if onboarding.is_cleared:
        raise ReadinessError(_("Already cleared for on-call."))
    if by.pk == onboarding.engineer_id:
        raise ReadinessError(_("Someone else clears you for on-call."))
    result = refresh_onboarding(onboarding)
    if not result.passed:
        raise ReadinessError(
            _("Not ready yet: %(explanation)s.") % {"explanation": result.explanation}
        )
    onboarding.clear(by=by)
    onboarding.log(Verb.CLEAR, actor=by, note=note)


@transaction.atomic
def reopen_onboarding(*, onboarding: Onboarding, by, note: str = "") -> None:
    """Take back a clearance: the onboarding is worked on again, and the gate decides its state."""
    onboarding = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
    if not onboarding.is_cleared:
        raise ReadinessError(_("Only a cleared onboarding can be reopened."))
    onboarding.reopen()
    onboarding.log(Verb.REOPEN, actor=by, note=note)
    refresh_onboarding(onboarding)


@transaction.atomic
def copy_template(*, template: ChecklistTemplate, team, by, name: str = "") -> ChecklistTemplate:
    """Copy a template (the shipped default, or another team's) for a team to adapt."""
    copy = ChecklistTemplate.objects.create(
        team=team,
        name=name or _("%(name)s (copy)") % {"name": template.name},
        description=template.description,
        created_by=by,
    )
    TemplateItem.objects.bulk_create(
        TemplateItem(
            template=copy,
            section=item.section,
            title=item.title,
            description=item.description,
            kind=item.kind,
            required=item.required,
            needs_signoff=item.needs_signoff,
            runbook_id=item.runbook_id,
            count=item.count,
            order=item.order,
        )
        for item in template.items.all()
    )
    return copy
