"""Dates, times, durations and numbers written the way the reader's language writes them.

One table of formats per language; every page, email and feed asks here, so
a template never carries its own ``|date:"…"`` for a person to read.
English reads as it always has (``Thu 3 Dec 2026, 10:00–18:00 JST``);
Japanese as ``2026年12月3日(木) 10:00–18:00 JST``. Weekday and month names
come from Django's own catalogues through ``dateformat``.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import dateformat, translation
from django.utils.translation import ngettext

# style -> Django date format, per language. Backslash-free: 年月日 are not format characters.
FORMATS = {
    "en": {
        "date": "D j M Y",  # Thu 3 Dec 2026
        "short_date": "j M",  # 3 Dec
        "us_date": "M j, Y",  # Dec 3, 2026
        "us_short_date": "M j",  # Dec 3
        "day_month_year": "j M Y",  # 3 Dec 2026
        "day_month_year_time": "j M Y H:i",  # 3 Dec 2026 10:00
        "datetime": "D j M Y, H:i T",  # Thu 3 Dec 2026, 10:00 JST
        "short_datetime": "D j M H:i T",  # Thu 3 Dec 10:00 JST
        "short_datetime_nozone": "D j M H:i",  # Thu 3 Dec 10:00
        "weekday_day": "D j M",  # Thu 3 Dec
        "us_datetime": "M j, Y H:i",  # Dec 3, 2026 10:00
        "us_short_datetime": "M j, H:i",  # Dec 3, 10:00
        "month": "F Y",  # December 2026
        "day_label": "l j F",  # Thursday 3 December
        "wall": "l j F Y, H:i",  # Thursday 3 December 2026, 10:00
        "weekday": "D",  # Thu
        "weekday_long": "l",  # Thursday
        "span_day": "D j M Y, H:i",  # the start of a span within one day
        "span_start": "D j M, H:i",  # the start of a span over days
    },
    "ja": {
        "date": "Y年n月j日(D)",
        "short_date": "n月j日",
        "us_date": "Y年n月j日",
        "us_short_date": "n月j日",
        "day_month_year": "Y年n月j日",
        "day_month_year_time": "Y年n月j日 H:i",
        "datetime": "Y年n月j日(D) H:i T",
        "short_datetime": "n月j日(D) H:i T",
        "short_datetime_nozone": "n月j日(D) H:i",
        "weekday_day": "n月j日(D)",
        "us_datetime": "Y年n月j日 H:i",
        "us_short_datetime": "n月j日 H:i",
        "month": "Y年n月",
        "day_label": "n月j日(D)",
        "wall": "Y年n月j日(D) H:i",
        "weekday": "D",
        "weekday_long": "l",
        "span_day": "Y年n月j日(D) H:i",
        "span_start": "n月j日(D) H:i",
    },
}


def _formats() -> dict[str, str]:
    language = (translation.get_language() or "en").split("-")[0]
    return FORMATS.get(language, FORMATS["en"])


def format_date(value: date | datetime, style: str = "date") -> str:
    """``value`` in one of the styles of FORMATS (``date``, ``month``, ``datetime``…)."""
    return dateformat.format(value, _formats()[style])


def format_span(starts: datetime, ends: datetime, tz: ZoneInfo) -> str:
    """``Thu 3 Dec 2026, 10:00–18:00 JST``, or with both dates when it crosses midnight.

    The zone abbreviation is named after each time whose offset differs
    (a shift across a DST change reads ``01:00 BST – 09:00 GMT``).
    """
    formats = _formats()
    start, end = starts.astimezone(tz), ends.astimezone(tz)

    def fmt(value: datetime, style: str) -> str:
        return dateformat.format(value, formats.get(style, style))

    # tzname(), not the "T" format: Django leaves "T" empty for an ambiguous
    # wall time, the very hour a DST change repeats.
    start_zone, end_zone = start.tzname(), end.tzname()
    if start.date() == end.date():
        if start_zone == end_zone:
            return f"{fmt(start, 'span_day')}–{fmt(end, 'H:i')} {end_zone}"
        return f"{fmt(start, 'span_day')} {start_zone} – {fmt(end, 'H:i')} {end_zone}"
    zone = "" if start_zone == end_zone else f" {start_zone}"
    return f"{fmt(start, 'span_start')}{zone} – {fmt(end, 'span_day')} {end_zone}"


def format_duration(length: timedelta) -> str:
    """The two largest units of a duration: ``12 hours, 45 minutes`` / ``12時間45分``."""
    seconds = max(int(length.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    for amount, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")):
        if amount and len(parts) < 2:
            parts.append((amount, unit))
        elif parts:
            break  # two units that are next to each other, never "3 days, 5 minutes"
    if not parts:
        parts = [(0, "minute")]
    words = {
        "day": lambda n: ngettext("%(count)d day", "%(count)d days", n),
        "hour": lambda n: ngettext("%(count)d hour", "%(count)d hours", n),
        "minute": lambda n: ngettext("%(count)d minute", "%(count)d minutes", n),
    }
    texts = [words[unit](amount) % {"count": amount} for amount, unit in parts]
    if len(texts) == 1:
        return texts[0]
    # Translators: the two units of a duration, "12 hours, 45 minutes"; Japanese writes 12時間45分.
    return translation.pgettext("duration", "%(first)s, %(second)s") % {
        "first": texts[0],
        "second": texts[1],
    }


def format_relative(moment: datetime, now: datetime) -> str:
    """``in 12 hours, 45 minutes`` / ``あと12時間45分``, or ``3 days ago`` / ``3日前``."""
    if moment >= now:
        return translation.gettext("in %(duration)s") % {"duration": format_duration(moment - now)}
    return translation.gettext("%(duration)s ago") % {"duration": format_duration(now - moment)}


def format_number(value: int | float | Decimal, digits: int = 0) -> str:
    """``1,234`` in both languages (Japanese groups by thousands with a comma too)."""
    return f"{value:,.{digits}f}"


def format_percent(fraction: float | Decimal | None, digits: int = 0) -> str:
    """A fraction 0–1 as ``75%``: the same digits and sign in English and Japanese."""
    if fraction is None:
        return "—"
    return f"{float(fraction) * 100:,.{digits}f}%"
