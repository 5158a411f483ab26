"""Recurring shifts: local wall times in a time zone, expanded to UTC across DST.

A lead says "weekdays 09:00–17:00 for two weeks, Asia/Tokyo" or "every
Tuesday 22:00–06:00 for four weeks, Europe/London". Each occurrence keeps its
*local* wall time; its UTC instant moves when the zone changes offset. A wall
time that does not exist (the clocks jump over it) is an error; one that
happens twice (the clocks fall back) needs the user to say which.

Everything here is pure: no database, no request. ``schedule.py`` stores the
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_SHIFT = timedelta(days=7)
MAX_WEEKS = 26


class Repeat(models.TextChoices):
    ONCE = "once", _("Once")
    DAILY = "daily", _("Every day")
    WEEKDAYS = "weekdays", _("Every weekday (Monday to Friday)")
    WEEKLY = "weekly", _("Every week on the same day")


class Fold(models.TextChoices):
    """Which of the two instants an ambiguous wall time means (``datetime.fold``)."""

    FIRST = "0", _("first")
    SECOND = "1", _("second")


class LocalTimeError(ValueError):
    """A wall time that cannot be turned into one UTC instant as it stands."""

    def __init__(self, *, which: str, local: datetime, zone: str) -> None:
        self.which = which  # "start" or "end": the form field to blame
        self.local = local  # naive wall time
        self.zone = zone
        super().__init__(f"{which} {local:%Y-%m-%d %H:%M} in {zone}")


class NonexistentLocalTime(LocalTimeError):
    """The clocks jump over this wall time (spring forward)."""


class AmbiguousLocalTime(LocalTimeError):
    """The clocks pass this wall time twice (fall back)."""

    def __init__(self, *, which: str, local: datetime, zone: str, offsets: tuple) -> None:
        super().__init__(which=which, local=local, zone=zone)
        self.offsets = offsets  # (first, second) UTC offsets as timedelta


@dataclass(frozen=True)
class Occurrence:
    """One shift of a series: its local date and its instants in UTC."""

    local_date: date
    starts_at: datetime
    ends_at: datetime

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at


def format_offset(offset: timedelta) -> str:
    """``UTC+09:00`` / ``UTC−05:00`` (a real minus sign, as clocks print it)."""
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "\u2212"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def to_utc(naive: datetime, tz: ZoneInfo, *, which: str, fold: int | None = None) -> datetime:
    """Turn a wall time in ``tz`` into an aware UTC datetime.

    1. Attach the zone with ``fold=0`` and ``fold=1``; when both give the same
       offset the wall time is ordinary.
    2. If a round trip through UTC does not give the same wall time back, the
       clocks skipped it: raise ``NonexistentLocalTime``.
    3. Otherwise two offsets mean the wall time happens twice: use ``fold``
       when given (0 = the first, 1 = the second), else raise
       ``AmbiguousLocalTime`` with both offsets so the user can choose.
    """
    zone = str(tz.key)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    for candidate in (first, second):
        back = candidate.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back != naive:
            raise NonexistentLocalTime(which=which, local=naive, zone=zone)
    if fold is None:
        raise AmbiguousLocalTime(
            which=which, local=naive, zone=zone, offsets=(first.utcoffset(), second.utcoffset())
        )
    return (second if fold else first).astimezone(UTC)


def local_dates(*, first: date, repeat: str, weeks: int = 1) -> list[date]:
    """The local dates on which the shifts of a series start.

    ``once`` gives ``first`` alone. The others cover ``weeks`` weeks from
    ``first`` (inclusive): every day, Monday to Friday only, or the weekday of
    ``first`` once a week.
    """
    if repeat == Repeat.ONCE:
        return [first]
    days = [first + timedelta(days=n) for n in range(7 * weeks)]
    if repeat == Repeat.DAILY:
        return days
    if repeat == Repeat.WEEKDAYS:
        return [d for d in days if d.weekday() < 5]
    if repeat == Repeat.WEEKLY:
        return [first + timedelta(weeks=n) for n in range(weeks)]
    raise ValueError(f"unknown repeat {repeat!r}")


def end_day_offset(*, start_time: time, end_time: time, days: int | None = None) -> int:
    """How many days after its start date a shift ends.

    Given explicitly (a shift ending on a later date) it is used as is;
    otherwise an end at or before the start time means the next morning
    (22:00–06:00 is an overnight shift).
    """
    if days is not None:
        return days
    return 0 if end_time > start_time else 1


def expand(
    *,
    first: date,
    start_time: time,
    end_time: time,
    tz: ZoneInfo,
    repeat: str = Repeat.ONCE,
    weeks: int = 1,
    end_days: int | None = None,
    fold: int | None = None,
) -> list[Occurrence]:
    """Expand a (possibly recurring) shift into occurrences in UTC.

    1. List the local start dates (``local_dates``).
    2. For each date, the start is ``date + start_time`` and the end is
       ``date + end_days + end_time`` as wall times in ``tz`` — so a 09:00
       shift stays at 09:00 local on both sides of a DST change.
    3. Convert each wall time with ``to_utc``; the first occurrence whose
       wall time does not exist, or is ambiguous with no ``fold`` given,
       raises (the error names the date).
    """
    offset = end_day_offset(start_time=start_time, end_time=end_time, days=end_days)
    occurrences = []
    for day in local_dates(first=first, repeat=repeat, weeks=weeks):
        starts = to_utc(datetime.combine(day, start_time), tz, which="start", fold=fold)
        end_day = day + timedelta(days=offset)
        ends = to_utc(datetime.combine(end_day, end_time), tz, which="end", fold=fold)
        occurrences.append(Occurrence(local_date=day, starts_at=starts, ends_at=ends))
    return occurrences


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: a shift ending at 17:00 does not clash with one at 17:00."""
    return a_start < b_end and b_start < a_end


def first_self_overlap(occurrences: list[Occurrence]) -> tuple[Occurrence, Occurrence] | None:
    """Two occurrences of the same series that overlap (e.g. daily 30-hour shifts)."""
    ordered = sorted(occurrences, key=lambda o: o.starts_at)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if overlaps(earlier.starts_at, earlier.ends_at, later.starts_at, later.ends_at):
            return earlier, later
    return None
