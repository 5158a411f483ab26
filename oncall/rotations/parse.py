"""An iCalendar feed turned into the rotation's shifts for the coming days.

Pure: bytes in, ``ReadShift`` rows out; no database, no network. Everything
about the feed is bounded before any work grows with it: the bytes (the
fetch caps them), the number of events, the repetitions expanded, the length
of each event.

Expansion (``expand``):

1. Each VEVENT is a master (it may carry RRULE / RDATE / EXDATE) or an
   override of one occurrence of a master (it carries RECURRENCE-ID).
2. Times come as UTC, in a zone (a known TZID or the feed's own VTIMEZONE,
   which icalendar resolves), floating (no zone) or as a date (all day).
   Floating times and dates are read in the rotation's time zone.
3. A master's occurrences keep their local wall time across DST (a weekly
   09:00 handover in New York stays at 09:00), each lasting the master's
   length in wall-clock terms; EXDATEs and overridden occurrences are taken
   out, and each override stands as an event of its own.
4. Cancelled events and occurrences are left out; what remains and overlaps
   the window [now, now + 90 days) is returned, sorted by start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
from dateutil import rrule

from oncall.rotations.errors import FeedError

HORIZON = timedelta(days=90)
MAX_EVENT_LENGTH = timedelta(days=14)
MAX_EVENTS = 5_000  # VEVENTs in one feed
MAX_REPETITIONS = 50_000  # occurrences walked over all rules, past ones included
MAX_TEXT = 200  # characters kept of a name or an event's summary

ATTENDEE = "attendee"
ORGANIZER = "organizer"
PAGERDUTY = "pagerduty"
GOALERT = "goalert"
REGEX = "regex"

# PagerDuty: "On Call - Jane Doe - Payments Primary". GoAlert's full-schedule
# feed: "Jane Doe On-Call (GoAlert: Payments)"; its personal feed says only
# "On-Call Shift" or "On-Call (GoAlert: Payments)" and names nobody.
PRESETS = {
    PAGERDUTY: re.compile(r"^On Call - (?P<person>.+?) - "),
    GOALERT: re.compile(r"^(?P<person>.+?) On-Call(?: Shift)? \("),
}


@dataclass(frozen=True)
class ReadShift:
    """One occurrence of an event: who holds the rotation, and when (UTC)."""

    key: str  # stable across reads: the event's UID and, for a repetition, its instant
    starts_at: datetime
    ends_at: datetime
    name: str  # how the feed names the person ("" when it does not)
    email: str  # lower case, "" when the feed gives none


@dataclass(frozen=True)
class PersonRule:
    """How an event names its person."""

    how: str  # ATTENDEE, ORGANIZER, PAGERDUTY, GOALERT or REGEX
    pattern: str = ""

    def compiled(self) -> re.Pattern | None:
        if self.how == REGEX:
            return re.compile(self.pattern)
        return PRESETS.get(self.how)

    def person(self, event: icalendar.Event, pattern: re.Pattern | None) -> tuple[str, str]:
        """(name, email) of the event's person; the summary stands as the name
        when the rule finds nobody, so an unmatched event still says something."""
        summary = _text(event.get("SUMMARY"))
        if self.how == ATTENDEE:
            found = _address(event.get("ATTENDEE"))
            return found if any(found) else (summary, "")
        if self.how == PAGERDUTY:
            # The name from the summary, the address from the bare ATTENDEE line.
            email = _address(event.get("ATTENDEE"))[1]
            match = pattern.search(summary) if pattern else None
            return (match["person"].strip() if match else summary) or email, email
        if self.how == ORGANIZER:
            found = _address(event.get("ORGANIZER"))
            return found if any(found) else (summary, "")
        if pattern is not None:
            match = pattern.search(summary)
            if match:
                named = match.groupdict().get("person") or (
                    match.group(1) if match.re.groups else ""
                )
                named = named.strip()[:MAX_TEXT]
                if "@" in named and " " not in named:
                    return named, named.lower()
                return named, ""
        return summary, ""


def _text(value) -> str:
    return str(value or "").strip()[:MAX_TEXT]


def _address(value) -> tuple[str, str]:
    """(name, email) from an ATTENDEE or ORGANIZER: ``mailto:`` or a bare address, CN as name."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return "", ""
    raw = str(value).strip()
    email = raw[7:] if raw.lower().startswith("mailto:") else raw
    email = email.strip().lower()[:MAX_TEXT]
    if "@" not in email:
        email = ""
    params = getattr(value, "params", {}) or {}
    name = _text(params.get("CN")) or email
    return name, email


def _label(event: icalendar.Event) -> str:
    return _text(event.get("SUMMARY")) or _text(event.get("UID")) or "?"


def parse_calendar(body: bytes) -> icalendar.Calendar:
    """The feed as a calendar, or ``FeedError("not_ical")``."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper()
    if not head.startswith(b"BEGIN:VCALENDAR"):
        raise FeedError("not_ical", detail="it does not start with BEGIN:VCALENDAR")
    try:
        return icalendar.Calendar.from_ical(body)
    except Exception as e:  # noqa: BLE001 - any parser complaint means the same to the lead
        raise FeedError("not_ical", detail=str(e)[:200]) from e


def _aware(value, zone: ZoneInfo) -> datetime:
    """A DTSTART-like value as an aware datetime: dates at local midnight, floating in ``zone``."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time(0), tzinfo=zone)


def _length(event: icalendar.Event, start, zone: ZoneInfo) -> timedelta:
    """How long the event lasts, as a wall-clock span from its start."""
    if "DTEND" in event:
        end = event["DTEND"].dt
        if isinstance(start, date) and not isinstance(start, datetime):
            if isinstance(end, datetime):
                end = end.date()
            return timedelta(days=(end - start).days)
        start_at = _aware(start, zone)
        end_at = _aware(end, zone)
        if end_at.tzinfo is start_at.tzinfo:
            return end_at - start_at  # wall clock in the one zone
        return end_at.astimezone(UTC) - start_at.astimezone(UTC)
    if "DURATION" in event:
        return event["DURATION"].dt
    if isinstance(start, date) and not isinstance(start, datetime):
        return timedelta(days=1)  # RFC 5545: an all-day event without an end lasts the day
    raise FeedError("no_end", event=_label(event))


def _until_in_utc(rule: icalendar.vRecur, zone) -> str:
    """The rule as text, with UNTIL in UTC as dateutil wants for an aware start."""
    parts = dict(rule)
    until = parts.get("UNTIL")
    if until:
        value = until[0]
        if isinstance(value, datetime):
            value = value if value.tzinfo else value.replace(tzinfo=zone)
        else:
            value = datetime.combine(value, time(23, 59, 59), tzinfo=zone)
        parts["UNTIL"] = [value.astimezone(UTC)]
    return icalendar.vRecur(parts).to_ical().decode()


def _instants(prop, zone: ZoneInfo) -> list[datetime]:
    """EXDATE / RDATE values (one or several lines) as aware datetimes."""
    lines = prop if isinstance(prop, list) else [prop]
    return [_aware(d.dt, zone) for line in lines for d in line.dts]


def expand(body: bytes, *, rule: PersonRule, zone: ZoneInfo, now: datetime) -> list[ReadShift]:
    """The feed's shifts overlapping [now, now + 90 days); ``FeedError`` names what is wrong."""
    calendar = parse_calendar(body)
    events = list(calendar.walk("VEVENT"))
    if len(events) > MAX_EVENTS:
        raise FeedError("too_many", limit=f"{MAX_EVENTS:,}")
    try:
        pattern = rule.compiled()
    except re.error as e:
        raise FeedError("bad_rule", event=rule.pattern[:80], detail=str(e)) from e
    window_end = now + HORIZON
    overrides: dict[str, set[datetime]] = {}
    for event in events:
        if "RECURRENCE-ID" in event:
            uid = _text(event.get("UID"))
            instant = _aware(event["RECURRENCE-ID"].dt, zone).astimezone(UTC)
            overrides.setdefault(uid, set()).add(instant)

    found: list[ReadShift] = []
    seen: set[str] = set()
    walked = 0
    for event in events:
        if "DTSTART" not in event:
            raise FeedError("no_end", event=_label(event))
        start = event["DTSTART"].dt
        length = _length(event, start, zone)
        if length <= timedelta(0):
            raise FeedError("ends_before_start", event=_label(event))
        if length > MAX_EVENT_LENGTH:
            raise FeedError("too_long", event=_label(event), days=MAX_EVENT_LENGTH.days)
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        uid = _text(event.get("UID")) or _label(event)
        first = _aware(start, zone)
        name, email = rule.person(event, pattern)

        if "RECURRENCE-ID" in event:
            instant = _aware(event["RECURRENCE-ID"].dt, zone).astimezone(UTC)
            starts = [(first, f"{uid}|{instant:%Y%m%dT%H%M%SZ}")]
        elif "RRULE" in event or "RDATE" in event:
            rules = rrule.rruleset()
            try:
                for recur in (
                    event.get("RRULE")
                    if isinstance(event.get("RRULE"), list)
                    else [event.get("RRULE")]
                ):
                    if recur is not None:
                        rules.rrule(rrule.rrulestr(_until_in_utc(recur, zone), dtstart=first))
                if "RDATE" in event:
                    for instant in _instants(event["RDATE"], zone):
                        rules.rdate(instant)
                if "EXDATE" in event:
                    for instant in _instants(event["EXDATE"], zone):
                        rules.exdate(instant)
            except (ValueError, TypeError) as e:
                raise FeedError("bad_rule", event=_label(event), detail=str(e)[:200]) from e
            moved = overrides.get(uid, set())
            starts = []
            for occurrence in rules:
                walked += 1
                if walked > MAX_REPETITIONS:
                    raise FeedError("too_many", limit=f"{MAX_REPETITIONS:,}")
                if occurrence >= window_end:
                    break
                instant = occurrence.astimezone(UTC)
                if instant in moved:
                    continue
                starts.append((occurrence, f"{uid}|{instant:%Y%m%dT%H%M%SZ}"))
        else:
            starts = [(first, uid)]

        for local_start, key in starts:
            starts_at = local_start.astimezone(UTC)
            ends_at = (local_start + length).astimezone(UTC)
            if ends_at <= now or starts_at >= window_end:
                continue
            if key in seen:  # a feed that reuses a UID: keep both, told apart by their start
                key = f"{key}@{starts_at:%Y%m%dT%H%M%SZ}"
            seen.add(key)
            found.append(ReadShift(key[:300], starts_at, ends_at, name, email))
            if len(found) > MAX_EVENTS:
                raise FeedError("too_many", limit=f"{MAX_EVENTS:,}")
    if not found:
        raise FeedError("empty", days=HORIZON.days)
    found.sort(key=lambda s: (s.starts_at, s.key))
    return found
