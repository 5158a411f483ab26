"""``{% load dates %}``: the template side of oncall.teams.dates, for every page."""

from datetime import datetime

from django import template
from django.utils import timezone

from oncall.teams import dates

register = template.Library()


@register.filter(expects_localtime=True, is_safe=False)
def when(value, style: str = "date") -> str:
    """``{{ shift.starts_at|when:"datetime" }}``: a date or time in the reader's language."""
    if value in (None, ""):
        return ""
    return dates.format_date(value, style)


@register.simple_tag
def date_range(first, last) -> str:
    """``{% date_range week.first week.last %}``: ``7–13 Dec 2026`` / ``2026年12月7日～13日``."""
    return dates.format_date_range(first, last)


@register.filter
def duration_until(value: datetime, now: datetime) -> str:
    """``{{ shift.starts_at|duration_until:now }}``: ``12 hours, 45 minutes`` / ``12時間45分``."""
    if not value or not now:
        return ""
    return dates.format_duration(value - now)


@register.filter
def duration_since(value: datetime, now: datetime | None = None) -> str:
    """``{{ source.last_used_at|duration_since }}``: how long ago, without ``ago``."""
    if not value:
        return ""
    return dates.format_duration((now or timezone.now()) - value)


@register.filter
def relative(value: datetime, now: datetime) -> str:
    """``{{ moment|relative:now }}``: ``in 3 days`` / ``あと3日``, ``3 days ago`` / ``3日前``."""
    if not value or not now:
        return ""
    return dates.format_relative(value, now)


@register.filter
def percent(value, digits: int = 0) -> str:
    """``{{ 0.75|percent }}`` → ``75%``."""
    return dates.format_percent(value, int(digits))


@register.filter
def number(value, digits: int = 0) -> str:
    """``{{ 1234|number }}`` → ``1,234``."""
    if value in (None, ""):
        return ""
    return dates.format_number(value, int(digits))
