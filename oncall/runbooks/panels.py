"""Extension point: other apps add blocks to the runbook page.

The runbooks app must not import the apps built on it (readiness marks a
runbook as read), so they register a panel here instead, usually in their
AppConfig.ready(). A panel is ``panel(request, runbook) -> str`` returning
HTML that is already rendered and escaped ("" for nothing to show). The page
shows the panels below its title, in registration order.

A panel may also answer ``panel.state(request, runbook) -> str``: a short
text that changes whenever its HTML would (apart from CSRF tokens and signed
proofs, which stay valid). The page's ETag is made of them, so an unchanged
page is answered "304 Not Modified"; a page with a panel that has no state
is never answered 304.

A panel whose state is one value in the database may give it as SQL instead,
``panel.state_sql(request) -> (sql, params) | None``: a scalar subquery over
the runbook, which the page's statement calls ``r`` (its id is ``r.id``).
The page reads it in the statement that reads the runbook, a round trip
saved on every visit, and uses ``repr`` of its value as the panel's state.
``None`` (say, for a reader it does not apply to) falls back to ``state``.
"""

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from oncall.runbooks.models import Runbook

Panel = Callable[[HttpRequest, Runbook], str]

_panels: list[Panel] = []


def register(panel: Panel) -> Panel:
    """Add a panel (idempotent, so it also works as a decorator)."""
    if panel not in _panels:
        _panels.append(panel)
    return panel


def unregister(panel: Panel) -> None:
    if panel in _panels:
        _panels.remove(panel)


def render_panels(request: HttpRequest, runbook: Runbook) -> list[SafeString]:
    rendered = []
    for panel in _panels:
        html = panel(request, runbook)
        if html:
            rendered.append(mark_safe(html))  # noqa: S308 - panels return rendered HTML
    return rendered


def state_subqueries(request: HttpRequest) -> list[tuple[Panel, str, list]]:
    """(panel, sql, params) of each panel that gives its state as SQL for this reader."""
    subqueries = []
    for panel in _panels:
        state_sql = getattr(panel, "state_sql", None)
        if state_sql is not None and (given := state_sql(request)) is not None:
            subqueries.append((panel, *given))
    return subqueries


def panel_states(
    request: HttpRequest, runbook: Runbook, read: dict[Panel, object] | None = None
) -> list[str] | None:
    """Every panel's state, or None when a panel cannot say (then no ETag).

    ``read`` holds the values of the panels' ``state_sql`` the page has read.
    """
    read = read or {}
    states = []
    for panel in _panels:
        if panel in read:
            states.append(repr(read[panel]))
            continue
        state = getattr(panel, "state", None)
        if state is None:
            return None
        states.append(state(request, runbook))
    return states
