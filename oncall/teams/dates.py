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
        # One style: day before month, the weekday where there is room.
        "date": "D j M Y",  # Thu 3 Dec 2026
        "short_date": "j M",  # 3 Dec
        "day_month_year": "j M Y",  # 3 Dec 2026
        "day_month_year_time": "j M Y, H:i",  # 3 Dec 2026, 10:00
        "datetime": "D j M Y, H:i T",  # Thu 3 Dec 2026, 10:00 JST
        "short_datetime": "D j M H:i T",  # Thu 3 Dec 10:00 JST
        "short_datetime_nozone": "D j M H:i",  # Thu 3 Dec 10:00
        "weekday_day": "D j M",  # Thu 3 Dec
        "month": "F Y",  # December 2026
        "day_label": "l j F",  # Thursday 3 December
        "wall": "l j F Y, H:i",  # Thursday 3 December 2026, 10:00
        "weekday": "D",  # Thu
        "weekday_long": "l",  # Thursday
        "span_day": "D j M Y, H:i",  # the start of a span within one day
        "span_start": "D j M, H:i",  # the start of a span over days
        "span_end": "D j M Y, H:i",  # its end
    },
    "ja": {
        "date": "Y年n月j日(D)",
        "short_date": "n月j日",
        "day_month_year": "Y年n月j日",
        "day_month_year_time": "Y年n月j日 H:i",
        "datetime": "Y年n月j日(D) H:i T",
        "short_datetime": "n月j日(D) H:i T",
        "short_datetime_nozone": "n月j日(D) H:i",
        "weekday_day": "n月j日(D)",
        "month": "Y年n月",
        "day_label": "n月j日(D)",
        "wall": "Y年n月j日(D) H:i",
        "weekday": "D",
        "weekday_long": "l",
        "span_day": "Y年n月j日(D) H:i",
        # Japanese names the year first, once: 2026年12月3日(木) 22:00 – 12月4日(金) 06:00.
        "span_start": "Y年n月j日(D) H:i",
        "span_end": "n月j日(D) H:i",
    },
}


# Names that pages and emails of earlier releases ask for: the same one style
# (they used to write the month first, "Dec 3, 2026", beside "Thu 3 Dec").
ALIASES = {
    "us_date": "day_month_year",
    "us_short_date": "short_date",
    "us_datetime": "day_month_year_time",
    "us_short_datetime": "short_datetime_nozone",
}
for _table in FORMATS.values():
    for _alias, _style in ALIASES.items():
        _table[_alias] = _table[_style]

# Between the two dates of a range, per language.
RANGE_DASH = {"en": "–", "ja": "～"}


def _language() -> str:
    language = (translation.get_language() or "en").split("-")[0]
    return language if language in FORMATS else "en"


def _formats() -> dict[str, str]:
    return FORMATS[_language()]


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
    if start.year != end.year:  # over New Year: both dates with their year
        return f"{fmt(start, 'span_day')}{zone} – {fmt(end, 'span_day')} {end_zone}"
    return f"{fmt(start, 'span_start')}{zone} – {fmt(end, 'span_end')} {end_zone}"


def format_date_range(first: date, last: date) -> str:
    """Two dates, the year said once: ``7–13 Dec 2026`` / ``2026年12月7日～13日``.

    English writes what the dates share at the end, Japanese at the start;
    a range over New Year gives each date its year.
    """
    language = _language()
    dash = RANGE_DASH[language]
    if first.year != last.year:
        style = "day_month_year"
        between = dash if language == "ja" else f" {dash} "
        return f"{format_date(first, style)}{between}{format_date(last, style)}"
    if language == "ja":
        end = "j日" if first.month == last.month else "n月j日"
        return f"{format_date(first, 'day_month_year')}{dash}{dateformat.format(last, end)}"
    if first.month == last.month:
        return f"{first.day}{dash}{format_date(last, 'day_month_year')}"
    return f"{format_date(first, 'short_date')} {dash} {format_date(last, 'day_month_year')}"


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
