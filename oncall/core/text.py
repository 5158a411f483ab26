"""What enters from outside passes one rule before anything stores it.

Alert payloads, runbook files and their paths, OpenID Connect claims and form
input all come from people or programs we do not control. The rule, applied
where each enters:

1. NUL and lone surrogates are refused, with the field named: PostgreSQL
   refuses NUL in text, SQLite's driver cannot encode a surrogate, so either
   would fail later, far from its cause, and take other rows down with it.
2. A path segment (a runbook file's folder or name) also refuses control
   characters: a newline in a slug breaks every URL built from it.
3. Times lie in the years 2000 to 2999; a caller may bound them closer
   (an alert's start at most a day ahead of now).

Each check returns the value unchanged or raises TextRefused, whose message
is the reason for a person to read ("summary holds a NUL character").
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)

NUL = "\x00"
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x1f\x7f]")


class TextRefused(ValueError):
    """Text or a time that the boundary rule refuses; the message names the field and why."""


def check_text(value: str, *, name: str) -> str:
    """``value`` when it holds neither NUL nor a lone surrogate; TextRefused naming ``name``."""
    if NUL in value:
        raise TextRefused(f"{name} holds a NUL character")
    if found := SURROGATE.search(value):
        raise TextRefused(f"{name} holds a lone surrogate (U+{ord(found.group()):04X})")
    return value


def check_mapping(values: Mapping[str, str], *, name: str) -> Mapping[str, str]:
    """Every key and value of a string mapping (labels, annotations, claims) by the text rule."""
    for key, value in values.items():
        check_text(key, name=f"{name}: a key")
        check_text(value, name=f"{name}[{key[:60]!r}]")
    return values


def check_segment(value: str, *, name: str) -> str:
    """A path segment: the text rule, and no control characters (newline, tab …)."""
    check_text(value, name=name)
    if found := CONTROL.search(value):
        raise TextRefused(f"{name} holds a control character (U+{ord(found.group()):04X})")
    return value


def check_moment(
    moment: datetime, *, name: str, latest: datetime | None = None, earliest: datetime = EARLIEST
) -> datetime:
    """An aware time within [earliest, latest] (by default the years 2000 to 2999)."""
    latest = min(latest, LATEST) if latest is not None else LATEST
    if moment < earliest:
        raise TextRefused(f"{name} {moment.isoformat()} is before {earliest.isoformat()}")
    if moment > latest:
        raise TextRefused(f"{name} {moment.isoformat()} is after {latest.isoformat()}")
    return moment
