"""Keeping a shadow plan's shifts in step with the rotation as last read.

All writes go through the shifts app's workflows, so each change carries
what every other change does: a schedule-change notice for the people on
the shift, a SEQUENCE bump in the calendar feeds, and the guarantee that
nobody is in two shifts at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from oncall.rotations.models import PlanShift, RotationShift, ShadowPlan
from oncall.shifts.calendar import local_midnight
from oncall.shifts.models import ShadowShift
from oncall.shifts.schedule import ClashError, apply_moves, cancel_shifts, schedule_shifts
from oncall.shifts.series import Occurrence

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one reconciliation did, for the command's line and the logs."""

    scheduled: int = 0
    moved: int = 0
    cancelled: int = 0
    skipped: int = 0
    hand_edited: int = 0
    clashes: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        for name in ("scheduled", "moved", "cancelled", "skipped", "hand_edited"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.clashes += other.clashes

    @property
    def changed(self) -> bool:
        return bool(self.scheduled or self.moved or self.cancelled)


def wanted_shifts(plan: ShadowPlan, *, now: datetime) -> list[RotationShift]:
    """The rotation shifts the plan shadows from now on, in order.

    1. Shifts that start inside the plan's dates (the team's time zone) and
       after ``now``; one already begun is history and never touched.
    2. Only those starting between the plan's earliest and latest local time.
    3. Only those whose person we know and who is not the trainee.
    4. At most ``max_shifts`` in all, counting the plan's shifts already begun.
    """
    tz = plan.rotation.team.tz
    begins = local_midnight(plan.starts_on, tz)
    ends = local_midnight(plan.ends_on + timedelta(days=1), tz)
    rows = (
        RotationShift.objects.filter(
            rotation=plan.rotation_id, starts_at__gte=begins, starts_at__gt=now, starts_at__lt=ends
        )
        .exclude(person=None)
        .exclude(person=plan.trainee_id)
        .select_related("person")
        .order_by("starts_at", "key")
    )
    wanted = []
    for row in rows:
        local = row.starts_at.astimezone(tz).time()
        if plan.earliest_start is not None and local < plan.earliest_start:
            continue
        if plan.latest_start is not None and local > plan.latest_start:
            continue
        wanted.append(row)
    if plan.max_shifts is not None:
        begun = (
            PlanShift.objects.filter(plan=plan, shift__starts_at__lte=now)
            .exclude(shift__state=ShadowShift.State.CANCELLED)
            .count()
        )
        wanted = wanted[: max(0, plan.max_shifts - begun)]
    return wanted


def _occurrence(row: RotationShift, tz) -> Occurrence:
    return Occurrence(
        local_date=row.starts_at.astimezone(tz).date(),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def _wrote(link: PlanShift, shift: ShadowShift) -> None:
    link.shift = shift
    link.written_starts_at = shift.starts_at
    link.written_ends_at = shift.ends_at
    link.written_primary_id = shift.primary_id
    link.clash_with = None
    link.clash_person = None


def _skip(link: PlanShift, error: ClashError, outcome: Outcome) -> None:
    link.shift = None
    link.written_starts_at = link.written_ends_at = link.written_primary = None
    if error.clash is not None:
        link.clash_with = error.clash.shift
        link.clash_person = error.clash.person
        outcome.clashes.append(
            f"{error.clash.occurrence.starts_at:%Y-%m-%d %H:%M} UTC clashes with "
            f"shift #{error.clash.shift.pk} of {error.clash.person}"
        )
    outcome.skipped += 1


@transaction.atomic
def reconcile_plan(plan: ShadowPlan, *, now: datetime | None = None) -> Outcome:
    """Make the plan's shadow shifts match the rotation; hand-edited ones are left alone.

    1. Each shift the plan wrote earlier and that has not begun: if it no
       longer matches what the plan wrote, it was edited by hand (marked,
       never touched again); if its rotation shift is gone, it is cancelled;
       if that shift moved or changed hands, ours is moved and re-paired.
    2. Each wanted rotation shift without a shadow shift is scheduled, the
       shifts with one primary together (one notice for them); one that
       would clash is skipped and the clash named, the others still go in.
    """
    now = now or timezone.now()
    plan = ShadowPlan.objects.select_related("rotation__team", "trainee").get(pk=plan.pk)
    tz = plan.rotation.team.tz
    outcome = Outcome()
    wanted = {row.key: row for row in wanted_shifts(plan, now=now)}
    links = {link.key: link for link in plan.links.select_related("shift", "plan")}

    for key, link in list(links.items()):
        if link.hand_edited:
            continue
        shift = link.shift
        if shift is None:
            if link.written_starts_at is not None:  # the shift was deleted by hand
                link.hand_edited = True
                link.save(update_fields=["hand_edited"])
                outcome.hand_edited += 1
            elif key not in wanted:
                link.delete()
                del links[key]
            continue
        if shift.starts_at <= now:
            continue
        if not link.matches(shift):
            link.hand_edited = True
            link.save(update_fields=["hand_edited"])
            outcome.hand_edited += 1
            continue
        row = wanted.get(key)
        if row is None:
            outcome.cancelled += cancel_shifts(shifts=[shift], by=None)
            link.delete()
            del links[key]
            continue
        if (row.starts_at, row.ends_at, row.person_id) == (
            shift.starts_at,
            shift.ends_at,
            shift.primary_id,
        ):
            continue
        try:
            apply_moves(
                plan=[(shift, _occurrence(row, tz))],
                trainee=plan.trainee,
                primary=row.person,
                kind=plan.kind,
                time_zone=tz.key,
                by=None,
            )
        except ClashError as error:
            cancel_shifts(shifts=[shift], by=None)
            _skip(link, error, outcome)
        else:
            _wrote(link, shift)
            outcome.moved += 1
        link.save()

    # New shadow shifts, grouped by primary: one series and one notice each.
    by_primary: dict[int, list[RotationShift]] = defaultdict(list)
    for key, row in wanted.items():
        link = links.get(key)
        if link is None or (link.shift_id is None and not link.hand_edited):
            by_primary[row.person_id].append(row)
    for rows in by_primary.values():
        _schedule(plan, rows, links, tz, outcome)

    plan.reconciled_at = now
    plan.save(update_fields=["reconciled_at"])
    return outcome


def _schedule(plan: ShadowPlan, rows: list[RotationShift], links: dict, tz, outcome: Outcome):
    """Schedule ``rows`` for one primary; a clash takes out that one shift and the rest go on."""
    pending = list(rows)
    while pending:
        try:
            shifts = schedule_shifts(
                team=plan.rotation.team,
                trainee=plan.trainee,
                primary=pending[0].person,
                kind=plan.kind,
                occurrences=[_occurrence(row, tz) for row in pending],
                time_zone=tz.key,
                created_by=None,
            )
        except ClashError as error:
            if error.clash is None:
                raise
            blocked = next(
                row for row in pending if row.starts_at == error.clash.occurrence.starts_at
            )
            pending.remove(blocked)
            link = links.get(blocked.key) or PlanShift(plan=plan, key=blocked.key)
            _skip(link, error, outcome)
            link.save()
            links[blocked.key] = link
            continue
        for row, shift in zip(pending, shifts, strict=True):
            link = links.get(row.key) or PlanShift(plan=plan, key=row.key)
            _wrote(link, shift)
            link.save()
            links[row.key] = link
            outcome.scheduled += 1
        return
