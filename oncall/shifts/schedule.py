"""Scheduling workflows: store a series, move, cancel or confirm shifts, find clashes.

Every change to shifts goes through a function here, so two things hold:

- No person is in two shifts at once. The clash check runs inside the write
  transaction that saves; on PostgreSQL an exclusion constraint on bookings
  also stops two racing saves (the loser gets ``ClashError``).
- Whatever derives from shifts is told in the same transaction: apps above
  shifts (readiness) register with ``on_shifts_changed``, so shifts never
  imports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from oncall.shifts.models import Booking, ScheduleChange, ShadowShift
from oncall.shifts.series import Occurrence, overlaps, to_utc
from oncall.teams.models import Team


@dataclass(frozen=True)
class Clash:
    """An occurrence that overlaps an existing shift of one of the same people."""

    occurrence: Occurrence
    shift: ShadowShift
    person: AbstractBaseUser


class ClashError(Exception):
    """Saving would put someone in two shifts at once."""

    def __init__(self, clash: Clash | None) -> None:
        super().__init__("the shift clashes with another shift of the same person")
        self.clash = clash


class ShiftError(Exception):
    """An action the shift's state or the person's role does not allow; the message says why."""


@dataclass(frozen=True)
class ShiftChange:
    """What happened to some shifts, for the listeners."""

    what: str  # "scheduled", "moved", "cancelled", "confirmed", "attended", "edited"
    shifts: list[ShadowShift]
    by: AbstractBaseUser | None
    # (team id, trainee id) pairs the shifts had before the change (a move may re-pair).
    former: frozenset[tuple[int, int]] = frozenset()


_listeners: list[Callable[[ShiftChange], None]] = []


def on_shifts_changed(listener: Callable[[ShiftChange], None]) -> None:
    """Call ``listener`` inside the transaction of every change to shifts."""
    if listener not in _listeners:
        _listeners.append(listener)


def shifts_changed(change: ShiftChange) -> None:
    for listener in _listeners:
        listener(change)


def _record_change(
    what: str, shifts: list[ShadowShift], by, *, before: dict | None = None, former=()
) -> ScheduleChange:
    """Remember a change for the people on the shifts (and those a move took off them)."""
    change = ScheduleChange.objects.create(what=what, by=by, before=before or {})
    change.shifts.set(shifts)
    people = {p for s in shifts for p in (s.trainee_id, s.primary_id)} | set(former)
    change.people.set(people)
    return change


# Apps above shifts may name more people who vouch that a shift happened
# (readiness: the trainee's mentor). Each takes (user, shift) and says yes or no.
_vouchers: list[Callable[[AbstractBaseUser, ShadowShift], bool]] = []


def also_vouches(check: Callable[[AbstractBaseUser, ShadowShift], bool]) -> None:
    if check not in _vouchers:
        _vouchers.append(check)


def may_confirm(shift: ShadowShift, user: AbstractBaseUser, *, lead: bool) -> bool:
    """The primary, a lead, or someone an app above vouches for; never the trainee."""
    if user.pk == shift.trainee_id:
        return False
    return shift.may_confirm(user, lead=lead) or any(check(user, shift) for check in _vouchers)


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
    """Store one shift per occurrence; several share a new ``series`` id.

    Raises ``ClashError`` when one would overlap a shift of the trainee or the
    primary, including one saved a moment ago by someone else.
    """
    clash = find_clash(occurrences=occurrences, people=[trainee, primary])
    if clash:
        raise ClashError(clash)
    series = uuid.uuid4() if len(occurrences) > 1 else None

    def write() -> list[ShadowShift]:
        shifts = ShadowShift.objects.bulk_create(
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
        )
        Booking.objects.bulk_create(b for shift in shifts for b in Booking.for_shift(shift))
        return shifts

    shifts = _without_overlap(write, occurrences, [trainee, primary])
    _record_change(ScheduleChange.What.SCHEDULED, shifts, created_by)
    shifts_changed(ShiftChange("scheduled", shifts, created_by))
    return shifts


# A save that lost a deadlock on the bookings tries again this many times.
DEADLOCK_RETRIES = 3


def _without_overlap(write, occurrences, people, exclude=()):
    """Run ``write`` in a savepoint; the database's overlap refusal becomes ``ClashError``.

    1. PostgreSQL's exclusion constraint refuses a booking that overlaps one
       a concurrent save committed (the in-transaction check could not see it
       yet): ``ClashError`` names the shift that won.
    2. Two saves racing each other can also deadlock on the constraint (each
       waits for the other's uncommitted booking), and PostgreSQL aborts one.
       That one writes again: now it waits for the winner to commit, then
       meets the refusal of step 1.
    """
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                return write()
        except IntegrityError as e:
            if "booking_no_overlap" not in str(e):
                raise
            clash = find_clash(occurrences=occurrences, people=people, exclude=exclude)
            raise ClashError(clash) from e
        except OperationalError as e:
            if _is_deadlock(e) and attempt < DEADLOCK_RETRIES:
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _is_deadlock(error: OperationalError) -> bool:
    # PostgreSQL's SQLSTATE 40P01, as psycopg reports it.
    return getattr(error.__cause__, "sqlstate", None) == "40P01"


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
    by: AbstractBaseUser | None = None,
) -> None:
    """Move (and re-pair) shifts as planned; ``ClashError`` if that makes a clash."""
    occurrences = [occurrence for _shift, occurrence in plan]
    moved = [shift.pk for shift, _occurrence in plan]
    former = frozenset((shift.team_id, shift.trainee_id) for shift, _occurrence in plan)
    before = {
        str(shift.pk): [shift.starts_at.isoformat(), shift.ends_at.isoformat()]
        for shift, _occurrence in plan
    }
    former_people = {p for shift, _o in plan for p in (shift.trainee_id, shift.primary_id)}
    clash = find_clash(occurrences=occurrences, people=[trainee, primary], exclude=moved)
    if clash:
        raise ClashError(clash)

    def write() -> None:
        for shift, occurrence in plan:
            shift.reschedule(
                starts_at=occurrence.starts_at,
                ends_at=occurrence.ends_at,
                trainee=trainee,
                primary=primary,
                kind=kind,
                time_zone=time_zone,
            )

    _without_overlap(write, occurrences, [trainee, primary], exclude=moved)
    moved_shifts = [shift for shift, _o in plan]
    _record_change(ScheduleChange.What.MOVED, moved_shifts, by, before=before, former=former_people)
    shifts_changed(ShiftChange("moved", moved_shifts, by, former))


@transaction.atomic
def cancel_shifts(*, shifts: list[ShadowShift], by: AbstractBaseUser | None = None) -> int:
    """Cancel each still scheduled shift; returns how many were cancelled."""
    cancelled = []
    for shift in shifts:
        if shift.state == ShadowShift.State.SCHEDULED:
            shift.cancel()
            cancelled.append(shift)
    if cancelled:
        _record_change(ScheduleChange.What.CANCELLED, cancelled, by)
        shifts_changed(ShiftChange("cancelled", cancelled, by))
    return len(cancelled)


@transaction.atomic
def confirm_shift(*, shift: ShadowShift, by: AbstractBaseUser, lead: bool) -> None:
    """The primary or a lead confirms the shift happened: from now on it counts."""
    if not may_confirm(shift, by, lead=lead):
        raise ShiftError(
            _("The primary or a lead confirms a shift; record that you attended instead.")
        )
    if not shift.can_mark_done():
        raise ShiftError(_("Only a scheduled shift that has started can be confirmed."))
    shift.mark_done(by=by)
    shifts_changed(ShiftChange("confirmed", [shift], by))


@transaction.atomic
def record_attendance(*, shift: ShadowShift, by: AbstractBaseUser) -> None:
    """The trainee records being there; it waits for the primary's confirmation."""
    if by.pk != shift.trainee_id:
        raise ShiftError(_("Only the trainee records attending a shift."))
    if not shift.can_mark_done():
        raise ShiftError(_("Only a scheduled shift that has started can be attended."))
    if shift.attended_at is None:
        shift.record_attendance()
        shifts_changed(ShiftChange("attended", [shift], by))


@transaction.atomic
def save_edited(
    *, shift: ShadowShift, by: AbstractBaseUser | None, former: frozenset = frozenset()
) -> None:
    """A shift changed field by field (the admin): bump SEQUENCE, re-book, tell listeners."""
    shift.bump_sequence()
    _without_overlap(shift.book, [], [])
    shifts_changed(ShiftChange("edited", [shift], by, former))
