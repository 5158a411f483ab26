from zoneinfo import ZoneInfo

from django import template

from oncall.shifts.models import ShadowShift
from oncall.teams.dates import format_span
from oncall.teams.people import display_name

register = template.Library()


@register.simple_tag
def shift_span(shift: ShadowShift, tz: ZoneInfo) -> str:
    """The shift's times in ``tz`` with the zone named: ``Tue 1 Dec 2026, 10:00–18:00 JST`` / ``2026年12月1日(火) 10:00–18:00 JST``."""
    return format_span(shift.starts_at, shift.ends_at, tz)


@register.filter
def person(user) -> str:
    return display_name(user)
