"""Scheduling workflows: store a series, move or cancel shifts, find clashes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q

from oncall.shifts.models import ShadowShift
from oncall.shifts.series import Occurrence, overlaps, to_utc
from oncall.teams.models import Team


@dataclass(frozen=True)
class Clash:
    """An occurrence that overlaps an existing shift of one of the same people."""

    occurrence: Occurrence
    shift: ShadowShift
    person: AbstractBaseUser


def find_clash(
    *,
    occurrences: list[Occurrence],
    people: list[AbstractBaseUser],
    exclude: list[int] | tuple = (),
) -> Clash | None:
    """The first existing, not cancelled shift that overlaps one of ``occurrences``
    and involves one of ``people`` (as trainee or primary — nobody can be in two
    shifts at once). One query for the whole series."""
    if not occurrences:
        return None
    earliest = min(o.starts_at for o in occurrences)
    latest = max(o.ends_at for o in occurrences)
    candidates = list(
        ShadowShift.objects.exclude(state=ShadowShift.State.CANCELLED)
        .exclude(pk__in=list(exclude))
        .filter(Q(trainee__in=people) | Q(primary__in=people))
        .filter(starts_at__lt=latest, ends_at__gt=earliest)
        .select_related("trainee", "primary", "team")
        .order_by("starts_at")
    )
    person_ids = {p.pk for p in people}
    for occurrence in sorted(occurrences, key=lambda o: o.starts_at):
        for shift in candidates:
            if overlaps(occurrence.starts_at, occurrence.ends_at, shift.starts_at, shift.ends_at):
                person = shift.trainee if shift.trainee_id in person_ids else shift.primary
                return Clash(occurrence=occurrence, shift=shift, person=person)
    return None


@transaction.atomic
def schedule_shifts(
    *,
    team: Team,
    trainee: AbstractBaseUser,
    primary: AbstractBaseUser,
    kind: str,
    occurrences: list[Occurrence],
    time_zone: str,
    created_by: AbstractBaseUser | None,
) -> list[ShadowShift]:
    """Store one shift per occurrence; several share a new ``series`` id."""
    series = uuid.uuid4() if len(occurrences) > 1 else None
    shifts = [
        ShadowShift(
            team=team,
            trainee=trainee,
            primary=primary,
            kind=kind,
            starts_at=o.starts_at,
            ends_at=o.ends_at,
            time_zone=time_zone,
            series=series,
            created_by=created_by,
        )
        for o in occurrences
    ]
    return ShadowShift.objects.bulk_create(shifts)


def this_and_following(shift: ShadowShift) -> list[ShadowShift]:
    """``shift`` and the later, still scheduled shifts of its series."""
    if shift.series is None:
        return [shift]
    later = list(
        ShadowShift.objects.filter(
            series=shift.series,
            state=ShadowShift.State.SCHEDULED,
            starts_at__gt=shift.starts_at,
        ).order_by("starts_at")
    )
    return [shift, *later]


def plan_moves(
    *,
    shifts: list[ShadowShift],
    first_date: date,
    start_time: time,
    end_time: time,
    end_days: int,
    tz: ZoneInfo,
    fold: int | None = None,
) -> list[tuple[ShadowShift, Occurrence]]:
    """Where each of ``shifts`` goes when the first one moves to ``first_date``.

    1. The first shift's old local start date (in the zone it was entered in)
       and ``first_date`` give a shift in days.
    2. Every shift keeps its own local date plus that many days, and takes the
       new wall times in ``tz`` — "move this and the following ones to 10:00"
       keeps each on its day, at 10:00 local across DST.
    3. Wall times that do not exist, or are ambiguous without ``fold``, raise.
    """
    if not shifts:
        return []
    anchor = shifts[0].starts_at.astimezone(ZoneInfo(shifts[0].time_zone)).date()
    delta = first_date - anchor
    plan = []
    for shift in shifts:
        day = shift.starts_at.astimezone(ZoneInfo(shift.time_zone)).date() + delta
        starts = to_utc(datetime.combine(day, start_time), tz, which="start", fold=fold)
        end_day = day + timedelta(days=end_days)
        ends = to_utc(datetime.combine(end_day, end_time), tz, which="end", fold=fold)
        plan.append((shift, Occurrence(local_date=day, starts_at=starts, ends_at=ends)))
    return plan


@transaction.atomic
def apply_moves(
    *,
    plan: list[tuple[ShadowShift, Occurrence]],
    trainee: AbstractBaseUser,
    primary: AbstractBaseUser,
    kind: str,
    time_zone: str,
) -> None:
    for shift, occurrence in plan:
        shift.reschedule(
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            trainee=trainee,
            primary=primary,
            kind=kind,
            time_zone=time_zone,
        )


@transaction.atomic
def cancel_shifts(*, shifts: list[ShadowShift]) -> int:
    """Cancel each still scheduled shift; returns how many were cancelled."""
    cancelled = 0
    for shift in shifts:
        if shift.state == ShadowShift.State.SCHEDULED:
            shift.cancel()
            cancelled += 1
    return cancelled
