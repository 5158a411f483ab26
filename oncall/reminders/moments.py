"""When a reminder falls due and how it names a moment: shared by the planners of plan.py
and practice.py."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from django.utils.translation import ngettext

from oncall.teams.dates import format_date


def local_label(moment: datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "Tue 10 Mar 10:00 JST" / "3月10日(火) 10:00 JST": the day is there because 24 h
    ahead is another day."""
    local = moment.astimezone(tz)
    return f"{format_date(local, 'short_datetime_nozone')} {local.tzname()}"


def lead_label(lead: timedelta) -> str:
    minutes = int(lead.total_seconds() // 60)
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("in %(n)d hour", "in %(n)d hours", hours) % {"n": hours}
    return ngettext("in %(n)d minute", "in %(n)d minutes", minutes) % {"n": minutes}


def due_before(starts_at: datetime, lead: timedelta, tz: zoneinfo.ZoneInfo) -> datetime:
    """When a reminder ``lead`` before ``starts_at`` falls due.

    Whole days are counted on the wall clock of the shift's time zone: "24 h
    before" a 09:00 shift is 09:00 the day before, even across a DST change,
    because that is what the person means. Shorter leads are plain durations.
    """
    day = timedelta(days=1)
    if lead % day:
        return starts_at - lead
    local = starts_at.astimezone(tz).replace(tzinfo=None) - lead
    return local.replace(tzinfo=tz).astimezone(UTC)


def round_minutes(delta: timedelta) -> timedelta:
    return timedelta(minutes=max(1, round(delta.total_seconds() / 60)))


def upcoming_dues(
    starts_at: datetime, leads: list[timedelta], tz: zoneinfo.ZoneInfo, *, set_at: datetime, now
) -> list[tuple[timedelta, datetime]]:
    """The (lead, due) pairs wanted before something that starts at ``starts_at``.

    1. A lead time whose moment is still ahead is wanted.
    2. So is one whose moment passed while the thing stood as it is now
       (``set_at``): it should have gone out, so it goes out late rather
       than never (a broker outage, a stopped worker).
    3. Moments that passed before it was set (short notice, or a move) are
       skipped, except that when *every* moment is gone the shortest one is
       sent at once: one "it starts soon", not a burst of stale ones.
    """
    dues = [(lead, due_before(starts_at, lead, tz)) for lead in leads]
    wanted = [(lead, due) for lead, due in dues if due > now or due >= set_at]
    if not wanted and dues:
        wanted = [min(dues)]
    return wanted
