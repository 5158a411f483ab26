"""Extension point: other apps add blocks to the shift page and a first draft of the debrief.

The shifts app must not import the apps built on it (alerts shows the alerts
of a shift), so they register here instead, usually in their
AppConfig.ready():

- a panel is ``panel(request, shift) -> str`` returning HTML that is already
  rendered and escaped ("" for nothing to show); the page shows the panels
  between the shift's summary and the debrief, in registration order;
- a pages-seen source is ``source(shift) -> str``: the text the debrief's
  "pages seen" starts with before the trainee writes anything (the first
  non-empty answer wins).
"""

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from oncall.shifts.models import ShadowShift

Panel = Callable[[HttpRequest, ShadowShift], str]
PagesSeen = Callable[[ShadowShift], str]

_panels: list[Panel] = []
_pages_seen: list[PagesSeen] = []


def register(panel: Panel) -> Panel:
    """Add a panel (idempotent, so it also works as a decorator)."""
    if panel not in _panels:
        _panels.append(panel)
    return panel


def unregister(panel: Panel) -> None:
    if panel in _panels:
        _panels.remove(panel)


def render_panels(request: HttpRequest, shift: ShadowShift) -> list[SafeString]:
    rendered = []
    for panel in _panels:
        html = panel(request, shift)
        if html:
            rendered.append(mark_safe(html))  # noqa: S308 - panels return rendered HTML
    return rendered


def register_pages_seen(source: PagesSeen) -> PagesSeen:
    if source not in _pages_seen:
        _pages_seen.append(source)
    return source


def pages_seen(shift: ShadowShift) -> str:
    for source in _pages_seen:
        text = source(shift)
        if text:
            return text
    return ""
