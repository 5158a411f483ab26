"""Replaying a drill's steps at their offsets, each exactly once.

Driven by the beat task ``oncall.drills.tasks.replay`` (every second), never
by ETA tasks: a message held for minutes is redelivered by Redis after its
visibility timeout, and lost with a worker that dies holding it.

1. Scheduled drills whose time has come start: a conditional UPDATE moves
   each from ``scheduled`` to ``running``, so two beats start it once.
2. For each running drill, every step whose offset has passed and which has
   no ``PlayedStep`` row is played: in one transaction the claim row is
   inserted and the step's effect written (a page fired or resolved, an
   inject shown). The unique (drill, step) constraint makes a second player
   fail to insert and roll back its copy of the effect; a worker killed
   mid-step commits neither, so the next tick plays the step.
3. A drill still running an hour after its last possible step ends by itself,
   so it can be graded.

Through the team's Alertmanager: when one of the team's alert sources names
its Alertmanager (``AlertSource.alertmanager_url``), an alert step is posted
there instead (labelled ``oncall_drill="<drill id>"``, see
via_alertmanager.py) and its page arrives back through the receiver. The
post happens before the claim, outside any transaction and lock:

a. The post carries the step's planned time as ``startsAt``, so posting the
   same step twice (two ticks, or a worker killed between the post and the
   claim) is the same alert to Alertmanager, and the page is one row per
   drill and step on the way back: nothing doubles.
b. The claim is then written as above; a worker killed before it leaves the
   step unclaimed, so the next tick posts it again: nothing is lost.
c. A post that fails is named in the drill's event log and the step's page
   is fed directly, in the claim's transaction, so the drill goes on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from oncall.alerts.alertmanager_api import AlertmanagerError, post_alerts
from oncall.alerts.models import AlertSource
from oncall.alerts.receiver import DRILL_LABEL, request_planning
from oncall.drills.models import (
    Drill,
    DrillPage,
    PlayedStep,
    Response,
    ResponseEvent,
    ScenarioStep,
)
from oncall.drills.steps import MAX_OFFSET

log = logging.getLogger(__name__)
ABANDONED_AFTER = timedelta(hours=1)
# A fired alert's end in Alertmanager, past its resolved step's planned time:
# the resolved step's own post ends it; this covers a replay that is late.
RESOLVE_SLACK = timedelta(minutes=5)


def start_due(now: datetime) -> list[int]:
    """Start every scheduled drill whose time has come; the ids started by this call."""
    started = []
    due = Drill.objects.filter(state=Drill.State.SCHEDULED, scheduled_at__lte=now)
    for pk in due.values_list("pk", flat=True)[:500]:
        if Drill.objects.filter(pk=pk, state=Drill.State.SCHEDULED).update(
            state=Drill.State.RUNNING, started_at=now
        ):
            started.append(pk)
    return started


def due_steps(drill: Drill, now: datetime) -> list[ScenarioStep]:
    """Steps of a running drill whose offset has passed and that nobody has played."""
    if drill.state != Drill.State.RUNNING or drill.started_at is None:
        return []
    elapsed = (now - drill.started_at).total_seconds()
    played = PlayedStep.objects.filter(drill=drill).values("step")
    return list(
        ScenarioStep.objects.filter(scenario_id=drill.scenario_id, offset__lte=elapsed)
        .exclude(pk__in=played)
        .order_by("offset", "position")
    )


def alertmanager_for(drill: Drill) -> str:
    """The URL of the Alertmanager the drill's team named on an alert source, or ""."""
    return (
        AlertSource.objects.active()
        .filter(team_id=drill.team_id)
        .exclude(alertmanager_url="")
        .order_by("pk")
        .values_list("alertmanager_url", flat=True)
        .first()
        or ""
    )


def play_step(drill: Drill, step: ScenarioStep, *, now: datetime, by=None) -> bool:
    """Play one step once: True when this call played it, False when it was played already
    or the drill is no longer running."""
    planned = drill.started_at + timedelta(seconds=step.offset) if drill.started_at else now
    url = alertmanager_for(drill) if step.is_alert else ""
    failure = ""
    if url:
        if drill.state != Drill.State.RUNNING or drill.started_at is None:
            return False
        if PlayedStep.objects.filter(drill=drill, step=step).exists():
            return False
        try:
            post_alerts(url, [alert_for(drill, step, now=now)])
        except AlertmanagerError as error:
            failure = str(error)
            log.warning("drill %s: step %s fed directly: %s", drill.pk, step.pk, failure)
    try:
        with transaction.atomic():
            # The drill's row lock orders players of one drill on PostgreSQL, and
            # the state read under it stops a step after the drill ended.
            current = Drill.objects.select_for_update().filter(pk=drill.pk).first()
            if current is None or current.state != Drill.State.RUNNING:
                return False
            PlayedStep.objects.create(
                drill=current, step=step, planned_at=planned, played_at=now, by_hand=by is not None
            )
            if url and not failure:
                return True  # the page comes back through the receiver
            _apply(current, step, now=now, by=by)
            if failure:
                _log_failure(current, step, failure, now=now)
    except IntegrityError:
        return False
    return True


def _fired_step_of(drill: Drill, step: ScenarioStep) -> ScenarioStep:
    """The fired step a resolved step ends: the latest one before it with its labels."""
    identity = step.alert_identity()
    for fired in (
        ScenarioStep.objects.filter(
            scenario_id=drill.scenario_id,
            kind=ScenarioStep.Kind.FIRED,
            alertname=step.alertname,
            offset__lte=step.offset,
        )
        .exclude(pk=step.pk)
        .order_by("-offset", "-position")
    ):
        if fired.alert_identity() == identity:
            return fired
    return step


def _planned_end(drill: Drill, fired: ScenarioStep) -> datetime:
    """When Alertmanager should take a fired drill alert as over if nothing resolves it:
    a while after the resolved step that ends it, else when the drill ends by itself.
    Without an end, Alertmanager resolves an alert after its resolve_timeout (5 min)."""
    identity = fired.alert_identity()
    for resolved in ScenarioStep.objects.filter(
        scenario_id=drill.scenario_id,
        kind=ScenarioStep.Kind.RESOLVED,
        alertname=fired.alertname,
        offset__gte=fired.offset,
    ).order_by("offset", "position"):
        if resolved.alert_identity() == identity:
            return drill.planned_at(resolved) + RESOLVE_SLACK
    return drill.started_at + timedelta(seconds=MAX_OFFSET) + ABANDONED_AFTER


def alert_for(drill: Drill, step: ScenarioStep, *, now: datetime) -> dict:
    """The alert a step posts to the team's Alertmanager (its API v2 shape).

    A fired step's alert starts at its planned time and ends when the scenario
    resolves it; a resolved step posts the same alert (the same labels and
    start) ending now."""
    fired = _fired_step_of(drill, step) if step.kind == ScenarioStep.Kind.RESOLVED else step
    ends = now if step.kind == ScenarioStep.Kind.RESOLVED else _planned_end(drill, fired)
    return {
        "labels": {**fired.labels, "alertname": fired.alertname, DRILL_LABEL: str(drill.pk)},
        "annotations": fired.annotations,
        "startsAt": drill.planned_at(fired).isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": f"{settings.SITE_URL}{drill.get_absolute_url()}",
    }


def _log_failure(drill: Drill, step: ScenarioStep, failure: str, *, now: datetime) -> None:
    ResponseEvent.objects.create(
        response=Response.objects.get(drill=drill),
        kind=ResponseEvent.Kind.NOTE,
        at=now,
        text=gettext(
            "Step %(step)s (%(alert)s) could not go through the team's Alertmanager, "
            "so its page was fed directly: %(error)s"
        )
        % {"step": step.position, "alert": step.alertname, "error": failure},
        step=step,
    )


def _apply(drill: Drill, step: ScenarioStep, *, now: datetime, by) -> None:
    if step.kind == ScenarioStep.Kind.FIRED:
        DrillPage.objects.create(
            drill=drill,
            step=step,
            alertname=step.alertname,
            labels={**step.labels, "alertname": step.alertname},
            annotations=step.annotations,
            runbook=step.runbook,
            fired_at=now,
        )
        # The page reaches the trainee in seconds, as a live one does, not at
        # the next minute's planning round.
        transaction.on_commit(request_planning)
    elif step.kind == ScenarioStep.Kind.RESOLVED:
        identity = step.alert_identity()
        for page in DrillPage.objects.filter(
            drill=drill, alertname=step.alertname, resolved_at__isnull=True
        ).order_by("-fired_at"):
            if tuple(sorted(page.labels.items())) == identity:
                page.resolved_at = now
                page.save(update_fields=["resolved_at"])
                break
    else:
        response = Response.objects.get(drill=drill)
        ResponseEvent.objects.create(
            response=response,
            kind=ResponseEvent.Kind.INJECT_RELEASED,
            at=now,
            by=by,
            text=step.text,
            step=step,
        )


def end_abandoned(now: datetime) -> int:
    """End drills still running an hour after their last possible step (24 h + 1 h),
    so a drill nobody ended can still be graded; the log says why it ended."""
    cutoff = now - timedelta(seconds=MAX_OFFSET) - ABANDONED_AFTER
    ended = 0
    for pk in Drill.objects.filter(state=Drill.State.RUNNING, started_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:500]:
        with transaction.atomic():
            if Drill.objects.filter(pk=pk, state=Drill.State.RUNNING).update(
                state=Drill.State.ENDED, ended_at=now
            ):
                ResponseEvent.objects.create(
                    response=Response.objects.get(drill_id=pk),
                    kind=ResponseEvent.Kind.ENDED,
                    at=now,
                    text=gettext("Ended by itself: nobody ended it within 25 hours."),
                )
                ended += 1
    return ended


def replay(now: datetime | None = None) -> int:
    """One tick: start due drills, play every due step, end abandoned ones.
    The number of steps played."""
    now = now or timezone.now()
    start_due(now)
    end_abandoned(now)
    played = 0
    for drill in Drill.objects.filter(state=Drill.State.RUNNING).order_by("pk")[:1000]:
        for step in due_steps(drill, now):
            try:
                played += play_step(drill, step, now=timezone.now())
            except Exception:
                # One broken drill must not hold up the others' steps.
                log.exception("drill %s: step %s could not be played", drill.pk, step.pk)
    return played
