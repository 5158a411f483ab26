"""Drills through the team's own Alertmanager: alerts posted there come back labelled.

When one of the team's alert sources names its Alertmanager
(``AlertSource.alertmanager_url``), the replay posts a drill's alerts there
with the label ``oncall_drill="<drill id>"`` (see replay.py). The team's
routes send them back to oncall's webhook like any alert; the receiver
(oncall/alerts/receiver.py) never stores such an alert as an occurrence and
hands it to ``attach`` below, registered when the app is ready.

``attach`` turns each alert into the drill's page for the step it replays:

1. The label's value must be a drill of the source's team (or of a team it
   may file for) that is running; anything else is ignored, and the note
   (logged by the receiver and returned in its answer) says why. An unknown
   drill and another team's drill get the same words, so a token holder
   learns nothing about other teams.
2. The step is the scenario's fired step with the same alertname and labels
   (the drill label left out) whose planned time lies nearest the alert's
   start; the replay posts each alert with its step's planned time as
   ``startsAt``, so a scenario that fires one alert twice finds each step.
3. The page is one row per drill and step: the first copy creates it with
   the alert's fingerprint, a re-delivery only fills a missing fingerprint,
   and a resolved copy sets its end (once).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction

from oncall.alerts.models import AlertSource
from oncall.alerts.receiver import (
    DRILL_LABEL,
    Incoming,
    register_drill_handler,
    request_planning,
)
from oncall.drills import files  # noqa: F401 - registers the runbooks sync's drill files
from oncall.drills.models import Drill, DrillPage, ScenarioStep

log = logging.getLogger(__name__)


def identity(labels: dict) -> tuple:
    """An alert's labels as a scenario step names them: without the drill label."""
    return tuple(sorted((k, v) for k, v in labels.items() if k != DRILL_LABEL))


def attach(*, source: AlertSource, alerts: list[Incoming], now: datetime) -> list[str]:
    """Attach drill alerts to their drills' pages; a note for each alert ignored."""
    notes: list[str] = []
    by_drill: dict[str, list[Incoming]] = {}
    for alert in alerts:
        by_drill.setdefault(alert.labels[DRILL_LABEL], []).append(alert)
    team_ids = {source.team_id, *source.other_teams.values_list("pk", flat=True)}
    for value, group in by_drill.items():
        drill = None
        if value.isascii() and value.isdigit() and len(value) < 18:
            drill = Drill.objects.filter(pk=int(value), team_id__in=team_ids).first()
        if drill is None:
            reason = f"{DRILL_LABEL}={value[:40]!r} names no drill of this source's teams"
        elif drill.state != Drill.State.RUNNING:
            reason = f"drill {drill.pk} is {drill.state}, not running"
        else:
            notes.extend(_attach_all(drill, group))
            continue
        notes.extend(f"alert {alert.index}: {reason}; ignored" for alert in group)
    return notes


def _attach_all(drill: Drill, alerts: list[Incoming]) -> list[str]:
    notes = []
    fired = list(
        ScenarioStep.objects.filter(
            scenario_id=drill.scenario_id, kind=ScenarioStep.Kind.FIRED
        ).select_related("runbook")
    )
    for alert in alerts:
        wanted = identity(alert.labels)
        steps = [step for step in fired if step.alert_identity() == wanted]
        if not steps:
            notes.append(
                f"alert {alert.index}: drill {drill.pk} has no step firing "
                f"{alert.alertname[:60]} with these labels; ignored"
            )
            continue
        step = min(
            steps, key=lambda s: abs((drill.planned_at(s) - alert.starts_at).total_seconds())
        )
        _page(drill, step, alert)
    return notes


def _page(drill: Drill, step: ScenarioStep, alert: Incoming) -> None:
    """Create, complete or resolve the drill's page for ``step`` from one copy of its alert."""
    page = DrillPage.objects.filter(drill=drill, step=step).first()
    if page is None:
        try:
            with transaction.atomic():
                page = DrillPage.objects.create(
                    drill=drill,
                    step=step,
                    alertname=step.alertname,
                    labels={k: v for k, v in alert.labels.items() if k != DRILL_LABEL},
                    annotations=alert.annotations,
                    runbook=step.runbook,
                    fired_at=alert.starts_at,
                    fingerprint=alert.fingerprint,
                )
            transaction.on_commit(request_planning)
        except IntegrityError:  # a concurrent copy of the same alert made it first
            page = DrillPage.objects.get(drill=drill, step=step)
    changed = {}
    if not page.fingerprint:
        changed["fingerprint"] = alert.fingerprint
    if alert.status == "resolved" and page.resolved_at is None:
        changed["resolved_at"] = alert.ends_at or alert.starts_at
    if "resolved_at" in changed:
        # Conditional: two copies resolving at once set the end once.
        DrillPage.objects.filter(pk=page.pk, resolved_at__isnull=True).update(**changed)
    elif changed:
        DrillPage.objects.filter(pk=page.pk).update(**changed)


register_drill_handler(attach)
