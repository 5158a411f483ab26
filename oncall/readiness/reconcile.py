"""The one writer of an onboarding's stored readiness.

``Onboarding.state``, ``ready_at``, ``required_done`` and ``required_total``
are derived from the readiness gate. They are stored so the dashboard, the
reminders and the chart can read them cheaply, and they are written here and
nowhere else:

- in the same transaction as every change that can move them: an item
  ticked, unticked, noted or signed off (``progress``), a shift scheduled,
  moved, cancelled or confirmed (``on_shift_change``, registered with the
  shifts app), a drill graded (``on_drill_graded``, registered with the
  drills app), a live response marked handled well or needs work
  (``on_response_marked``, registered with the drills app), a runbook given a new revision by a sync
  (``on_revisions_change``, registered with the runbooks app), an onboarding
  started, cleared or reopened;
- periodically from beat (``reconcile_all``), a safety net for anything that
  changed the database some other way (an admin edit, a restore).

GET requests never call it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oncall.drills.models import Drill, Response
from oncall.readiness import gate
from oncall.readiness.models import Activity, ItemProgress, Kind, Onboarding
from oncall.shifts.models import ShadowShift
from oncall.shifts.schedule import ShiftChange
from oncall.teams.dates import format_date

logger = logging.getLogger(__name__)

Verb = Activity.Verb


def reconcile(onboarding: Onboarding) -> gate.GateResult:
    """Bring one onboarding's stored readiness in line with the gate.

    1. Lock the onboarding's row, so two changes to it reconcile one after
       the other (PostgreSQL; SQLite's writers are serialised already).
    2. Evaluate the gate on its items and the engineer's confirmed shifts.
    3. For each read item whose runbook moved on since it was read, record a
       "re-read needed" activity once per new revision.
    4. Store the state (a cleared onboarding stays cleared), ``ready_at``
       (when the gate started passing) and the counts, writing only what differs.
    Returns the gate's result.
    """
    with transaction.atomic():
        locked = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
        items = list(locked.items.select_related("runbook"))
        result = gate.evaluate(locked, items=items)
        _note_rereads(locked, result)
        changes = _stored_changes(locked, result)
        if changes:
            Onboarding.objects.filter(pk=locked.pk).update(**changes)
        for name in ("state", "ready_at", "required_done", "required_total"):
            setattr(onboarding, name, changes.get(name, getattr(locked, name)))
        onboarding.cleared_by_id, onboarding.cleared_at = locked.cleared_by_id, locked.cleared_at
    return result


def _stored_changes(onboarding: Onboarding, result: gate.GateResult) -> dict:
    wanted = {"required_done": result.done, "required_total": result.total}
    if onboarding.state != Onboarding.State.CLEARED:
        state = Onboarding.State.READY if result.passed else Onboarding.State.IN_PROGRESS
        wanted["state"] = state
        if state == Onboarding.State.READY:
            wanted["ready_at"] = onboarding.ready_at or timezone.now()
        else:
            wanted["ready_at"] = None
    return {name: value for name, value in wanted.items() if getattr(onboarding, name) != value}


def _note_rereads(onboarding: Onboarding, result: gate.GateResult) -> None:
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


def reconcile_many(onboarding_ids: Iterable[int]) -> int:
    """Reconcile each onboarding; returns how many were reconciled."""
    count = 0
    for onboarding in Onboarding.objects.filter(pk__in=list(onboarding_ids)).order_by("pk"):
        reconcile(onboarding)
        count += 1
    return count


def reconcile_all() -> tuple[int, int]:
    """The periodic safety net: every onboarding, each in its own transaction.

    One onboarding that fails is logged with its id and skipped; the others
    are still reconciled. Returns (reconciled, failed).
    """
    done = failed = 0
    for pk in Onboarding.objects.order_by("pk").values_list("pk", flat=True):
        try:
            reconcile(Onboarding(pk=pk))
        except Exception:
            logger.exception("reconcile of onboarding %s failed", pk)
            failed += 1
        else:
            done += 1
    return done, failed


# -- listeners registered with the apps below readiness (see apps.py) -------------------


def on_shift_change(change: ShiftChange) -> None:
    """Shifts were scheduled, moved, cancelled, attended or confirmed.

    Records who vouched for what on the trainee's onboardings in that team,
    then reconciles them, in the transaction of the change.
    """
    # A move may also take a shift away from its former trainee.
    pairs = {(shift.team_id, shift.trainee_id) for shift in change.shifts} | change.former
    onboardings = list(
        Onboarding.objects.filter(
            team_id__in={t for t, _p in pairs}, engineer_id__in={p for _t, p in pairs}
        ).select_related("team")
    )
    verb = {
        "confirmed": Verb.SHIFT_CONFIRMED,
        "attended": Verb.SHIFT_ATTENDED,
        "cancelled": Verb.SHIFT_CANCELLED,
    }.get(change.what)
    for onboarding in onboardings:
        if (onboarding.team_id, onboarding.engineer_id) not in pairs:
            continue
        if verb is not None:
            for shift in change.shifts:
                if (shift.team_id, shift.trainee_id) == (
                    onboarding.team_id,
                    onboarding.engineer_id,
                ):
                    onboarding.log(verb, actor=change.by, note=_shift_words(shift, onboarding))
        reconcile(onboarding)


def on_drill_graded(drill: Drill) -> None:
    """A drill was graded: reconcile its trainee's onboardings in its team, in
    the transaction of the grade (a pass may complete a drill item)."""
    for onboarding in Onboarding.objects.filter(
        team_id=drill.team_id, engineer_id=drill.trainee_id
    ).order_by("pk"):
        reconcile(onboarding)


def on_response_marked(response: Response) -> None:
    """A live response was marked (or its mark changed): reconcile its
    responder's onboardings in the page's team, in the transaction of the mark
    (a "handled well" may complete a respond-to-pages item, and a change to
    "needs work" may undo one). A drill's response is the grade's to count."""
    if response.occurrence_id is None:
        return
    team_id = response.occurrence.team_id
    for onboarding in Onboarding.objects.filter(
        team_id=team_id, engineer_id=response.responder_id
    ).order_by("pk"):
        reconcile(onboarding)


def _shift_words(shift: ShadowShift, onboarding: Onboarding) -> str:
    local = timezone.localtime(shift.starts_at, onboarding.team.tz)
    return _("%(kind)s shift on %(day)s") % {
        "kind": shift.get_kind_display(),
        "day": format_date(local, "datetime"),
    }


def is_mentor_for(user, shift: ShadowShift) -> bool:
    """``user`` mentors the shift's trainee in an onboarding of that team still going on."""
    return (
        Onboarding.objects.filter(
            mentor_id=user.pk, engineer_id=shift.trainee_id, team_id=shift.team_id
        )
        .exclude(state=Onboarding.State.CLEARED)
        .exists()
    )


def on_revisions_change(runbook_ids: Iterable[int]) -> int:
    """A sync gave runbooks new revisions: reconcile the onboardings that read them.

    Returns how many onboardings were reconciled."""
    onboarding_ids = set(
        ItemProgress.objects.filter(
            kind=Kind.READ_RUNBOOK, runbook_id__in=list(runbook_ids)
        ).values_list("onboarding_id", flat=True)
    )
    return reconcile_many(onboarding_ids)
