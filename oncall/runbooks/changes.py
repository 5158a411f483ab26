"""Who is told, in the sync's own transaction, that runbooks got new revisions.

Apps above runbooks (readiness: a read item re-opens when its runbook
changes) register a listener; runbooks never imports them.
"""

from collections.abc import Callable, Iterable

_listeners: list[Callable[[list[int]], None]] = []


def on_revisions_changed(listener: Callable[[list[int]], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def revisions_changed(runbook_ids: Iterable[int]) -> None:
    """Tell every listener which runbooks have a new current revision."""
    ids = sorted(set(runbook_ids))
    if not ids:
        return
    for listener in _listeners:
        listener(ids)
