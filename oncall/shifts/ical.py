"""A calendar event written straight to bytes, as icalendar writes it, for a tenth of the cost.

A feed's events are remembered once rendered (``feeds._event_bytes``), but
the first poll after a restart renders every one. Through icalendar's
``Event`` that costs about 0.4 ms an event (a value type looked up per
property, time zone names worked out per date-time, lines folded character
by character): 200 ms and more for a feed of 500 shifts.

A feed event holds four kinds of value only: text, a whole number, a UTC
date-time and a URL. ``EventLines`` writes those itself, in icalendar's
order and with its escaping and folding, so the bytes are the same as
icalendar's for the same properties (tests/test_shifts_feed_events.py holds
it to that); any other kind of value is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

# icalendar's order for a VEVENT: these first, in this order, then the rest by name.
CANONICAL_ORDER = (
    "SUMMARY",
    "DTSTART",
    "DTEND",
    "DURATION",
    "DTSTAMP",
    "UID",
    "RECURRENCE-ID",
    "SEQUENCE",
    "RRULE",
    "RDATE",
    "EXDATE",
)
_RANK = {name: n for n, name in enumerate(CANONICAL_ORDER)}
# Properties whose value is a URI: written as it is, without TEXT escaping.
URI_PROPERTIES = frozenset({"URL"})
LINE_OCTETS = 75  # RFC 5545 3.1: a line holds at most 75 octets before its CRLF


def escape_text(text: str) -> str:
    """RFC 5545 TEXT escaping, in icalendar's order (backslash first, newlines last)."""
    return (
        text.replace(r"\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", r"\;")
        .replace(",", r"\,")
        .replace("\r\n", r"\n")
        .replace("\n", r"\n")
        .replace("\r", r"\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a character or after a lone escape.

    1. A line of up to 74 octets stays as it is (the common case).
    2. Otherwise characters are added until the next would make 75 octets;
       there the line breaks (CRLF and a space). As in icalendar, a line
       that would end in a backslash or caret hands it to the next line, so
       an escape such as ``\\,`` is never split.
    """
    encoded = len(line) if line.isascii() else len(line.encode())
    if encoded < LINE_OCTETS:
        return line
    pieces: list[str] = []
    current: list[str] = []
    octets = 0
    for char in line:
        size = 1 if char < "\x80" else len(char.encode())
        if current and octets + size >= LINE_OCTETS:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                pieces.append("".join(current))
                current, octets = [carried], len(carried.encode())
            else:
                pieces.append("".join(current))
                current, octets = [], 0
        current.append(char)
        octets += size
    if current:
        pieces.append("".join(current))
    return "\r\n ".join(pieces)


def _value(name: str, value) -> str:
    if isinstance(value, bool):
        raise TypeError(f"{name}: a feed event holds no booleans")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name}: a date-time in a feed must carry its time zone")
        v = value.astimezone(UTC)
        return f"{v.year:04}{v.month:02}{v.day:02}T{v.hour:02}{v.minute:02}{v.second:02}Z"
    if isinstance(value, str):
        return value if name in URI_PROPERTIES else escape_text(value)
    raise TypeError(f"{name}: {type(value).__name__} is not a value a feed event holds")


class EventLines:
    """A VEVENT built with ``add(name, value)`` and written with ``to_ical()``, like
    icalendar's ``Event`` for text, whole numbers, aware date-times and URLs."""

    def __init__(self) -> None:
        self.properties: dict[str, object] = {}
        self._written: dict[str, str] = {}

    def add(self, name: str, value) -> None:
        name = name.upper()
        if name in self.properties:
            raise ValueError(f"{name} is already set: a feed event holds each property once")
        # Written now, so a value it cannot write is refused here, not at to_ical().
        self._written[name] = _value(name, value)
        self.properties[name] = value

    def __getitem__(self, name: str):
        return self.properties[name.upper()]

    def items(self) -> list[tuple[str, object]]:
        """(name, value) in the order they are written."""
        return sorted(
            self.properties.items(),
            key=lambda item: (0, _RANK[item[0]], "") if item[0] in _RANK else (1, 0, item[0]),
        )

    def to_ical(self) -> bytes:
        lines = ["BEGIN:VEVENT"]
        lines += [fold(f"{name}:{self._written[name]}") for name, _value in self.items()]
        lines.append("END:VEVENT")
        return ("\r\n".join(lines) + "\r\n").encode()
