"""What a console shows: a response's timeline, and the computed parts of a drill's grade."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from oncall.drills.models import Drill, DrillPage, ResponseEvent
from oncall.runbooks.models import Runbook


@dataclass
class Entry:
    at: datetime
    offset: str  # "+02:15" from the drill's start
    kind: str
    text: str
    page: DrillPage | LiveCard | None = None
    event: ResponseEvent | None = None


@dataclass
class Assessment:
    """The grade's computed parts; None where they do not apply yet."""

    first_page_at: datetime | None
    time_to_ack: timedelta | None
    ack_target: timedelta
    ack_within_target: bool | None
    expected: list[Runbook] = field(default_factory=list)
    opened: list[Runbook] = field(default_factory=list)
    opened_expected: bool | None = None
    time_to_first_runbook: timedelta | None = None


def clock(delta: timedelta | None) -> str:
    """A duration as m:ss, or h:mm:ss from an hour."""
    if delta is None:
        return ""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def _minutes(seconds: int) -> str:
    minutes, rest = divmod(max(0, int(seconds)), 60)
    return f"{minutes}:{rest:02}" if rest else str(minutes)


def offset_label(seconds: int) -> str:
    """A step's time from the start in minutes, the unit the record form asks for:
    "+4 min", "+4:30 min"."""
    return _("+%(minutes)s min") % {"minutes": _minutes(seconds)}


def minutes_label(seconds: int) -> str:
    """A duration in minutes, the unit the record form asks for: "5 min", "4:30 min"."""
    return _("%(minutes)s min") % {"minutes": _minutes(seconds)}


@dataclass
class LiveCard:
    """A live page (an ``AlertOccurrence``) as the console's page card shows it, the
    same card as a drill's page."""

    pk: int
    alertname: str
    labels: dict
    annotations: dict
    runbook: Runbook | None
    fired_at: datetime
    resolved_at: datetime | None
    link: str = ""
    is_live = True

    @classmethod
    def of(cls, occurrence) -> LiveCard:
        return cls(
            pk=occurrence.pk,
            alertname=occurrence.alertname,
            labels=occurrence.labels or {},
            annotations=occurrence.annotations or {},
            runbook=occurrence.runbook,
            fired_at=occurrence.starts_at,
            resolved_at=occurrence.ends_at if not occurrence.is_firing else None,
        )

    @property
    def runbook_id(self) -> int | None:
        return self.runbook.pk if self.runbook is not None else None

    is_firing = DrillPage.is_firing
    summary = DrillPage.summary
    description = DrillPage.description
    severity = DrillPage.severity
    shown_labels = DrillPage.shown_labels


def timeline(
    start: datetime | None, pages: list[DrillPage | LiveCard], events: list[ResponseEvent]
) -> list[Entry]:
    """Pages fired and resolved and the response's events, in the order they happened;
    each with its time from ``start`` (a drill's start, a live page's first firing)."""
    entries = []

    def entry(at, kind, text, **extra):
        offset = "+" + clock(at - start) if start else ""
        entries.append(Entry(at=at, offset=offset, kind=kind, text=text, **extra))

    for page in pages:
        entry(page.fired_at, "fired", _("%(alert)s fired") % {"alert": page.alertname}, page=page)
        if page.resolved_at:
            entry(
                page.resolved_at,
                "resolved",
                _("%(alert)s resolved") % {"alert": page.alertname},
                page=page,
            )
    for event in events:
        if event.kind == ResponseEvent.Kind.RUNBOOK_OPENED and event.runbook is not None:
            text = _("Opened the runbook %(title)s") % {"title": event.runbook.title}
        elif event.kind == ResponseEvent.Kind.ACKNOWLEDGED:
            text = _("Acknowledged")
        else:
            text = event.text
        entry(event.at, event.kind, text, event=event)
    entries.sort(key=lambda e: e.at)
    return entries


def assess(
    drill: Drill,
    pages: list[DrillPage],
    events: list[ResponseEvent],
    expected: list[Runbook],
    acknowledged_at: datetime | None,
) -> Assessment:
    """Acknowledged within the target, expected runbook opened, and the times to each.

    The expected runbooks are the scenario's; a scenario that names none
    expects the runbooks its pages link to.
    """
    first = min((p.fired_at for p in pages), default=None)
    target = timedelta(seconds=drill.scenario.ack_target)
    time_to_ack = acknowledged_at - first if first and acknowledged_at else None
    if first is None:
        within = None
    elif acknowledged_at is None:
        within = False if drill.is_over else None
    else:
        within = time_to_ack <= target
    if not expected:
        expected = list({p.runbook_id: p.runbook for p in pages if p.runbook_id}.values())
    opened_events = [
        e for e in events if e.kind == ResponseEvent.Kind.RUNBOOK_OPENED and e.runbook_id
    ]
    opened = list({e.runbook_id: e.runbook for e in opened_events}.values())
    expected_ids = {r.pk for r in expected}
    opened_expected = any(r.pk in expected_ids for r in opened) if expected else None
    first_runbook = min((e.at for e in opened_events), default=None)
    return Assessment(
        first_page_at=first,
        time_to_ack=time_to_ack,
        ack_target=target,
        ack_within_target=within,
        expected=expected,
        opened=opened,
        opened_expected=opened_expected,
        time_to_first_runbook=first_runbook - first if first and first_runbook else None,
    )
