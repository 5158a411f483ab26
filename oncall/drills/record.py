"""Scenarios from the team's own history, and storing checked steps.

Recording takes occurrences the game master picked from a time window of the
team's alerts:

1. They are ordered by when they fired; the first one is offset 0.
2. Each becomes a ``fired`` step at its offset with its labels and
   annotations (as edited by the game master) and the runbook the receiver
   resolved when it really fired; one that resolved within 24 h of the first
   also gets a ``resolved`` step.
3. Injects are added at their offsets; all steps pass the one rule in
   ``steps.py`` before anything is stored, so a bad one stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from oncall.alerts.models import AlertOccurrence
from oncall.drills.models import DEFAULT_ACK_TARGET, Scenario, ScenarioStep
from oncall.drills.steps import MAX_OFFSET, MAX_STEPS, StepSpec, check_steps
from oncall.runbooks.models import Runbook
from oncall.teams.models import Team


def team_alerts(team: Team, start: datetime, end: datetime) -> QuerySet[AlertOccurrence]:
    """The team's real alerts that fired in [start, end), oldest first, at most MAX_STEPS."""
    return (
        AlertOccurrence.objects.filter(team=team, starts_at__gte=start, starts_at__lt=end)
        .select_related("runbook")
        .order_by("starts_at", "id")[:MAX_STEPS]
    )


def steps_from_occurrences(
    occurrences: Sequence[AlertOccurrence],
    *,
    edits: dict[int, tuple[dict, dict]] | None = None,
    injects: Iterable[tuple[int, str]] = (),
) -> list[dict]:
    """Raw steps (as in a file's front matter) for the picked occurrences and injects."""
    edits = edits or {}
    ordered = sorted(occurrences, key=lambda o: (o.starts_at, o.pk))
    raw: list[dict] = []
    if ordered:
        first = ordered[0].starts_at
        for occurrence in ordered:
            labels, annotations = edits.get(
                occurrence.pk, (occurrence.labels, occurrence.annotations)
            )
            common = {
                "alertname": occurrence.alertname,
                "labels": labels,
                "runbook": occurrence.runbook.slug if occurrence.runbook_id else "",
            }
            offset = int((occurrence.starts_at - first).total_seconds())
            raw.append({"kind": "fired", "offset": offset, "annotations": annotations, **common})
            if occurrence.ends_at is not None:
                end = int((occurrence.ends_at - first).total_seconds())
                if offset <= end <= MAX_OFFSET:
                    raw.append({"kind": "resolved", "offset": end, **common})
    raw.extend({"kind": "inject", "offset": offset, "text": text} for offset, text in injects)
    return raw


def store_scenario(
    *,
    team: Team,
    title: str,
    specs: list[StepSpec],
    by: AbstractBaseUser | None = None,
    brief: str = "",
    hidden_notes: str = "",
    root_cause: str = "",
    ack_target: int = DEFAULT_ACK_TARGET,
    expected_runbooks: Iterable[str] = (),
    source: str = Scenario.Source.RECORDED,
    source_path: str = "",
    source_revision: str = "",
    scenario: Scenario | None = None,
) -> Scenario:
    """Store checked steps as a new scenario (or replace the steps of ``scenario``).

    A runbook slug that names no runbook leaves the step without one.
    """
    slugs = {s.runbook_slug for s in specs if s.runbook_slug} | set(expected_runbooks)
    runbooks = {r.slug: r for r in Runbook.objects.filter(slug__in=slugs)}
    with transaction.atomic():
        fields = {
            "team": team,
            "title": title,
            "brief": brief,
            "hidden_notes": hidden_notes,
            "root_cause": root_cause,
            "ack_target": ack_target,
            "source": source,
            "source_path": source_path,
            "source_revision": source_revision,
        }
        if scenario is None:
            scenario = Scenario.objects.create(created_by=by, **fields)
        else:
            for name, value in fields.items():
                setattr(scenario, name, value)
            scenario.save()
            scenario.steps.all().delete()
        ScenarioStep.objects.bulk_create(
            ScenarioStep(
                scenario=scenario,
                position=n,
                kind=spec.kind,
                offset=spec.offset,
                alertname=spec.alertname,
                labels=spec.labels,
                annotations=spec.annotations,
                text=spec.text,
                runbook=runbooks.get(spec.runbook_slug),
            )
            for n, spec in enumerate(specs, start=1)
        )
        expected = [runbooks[s] for s in expected_runbooks if s in runbooks]
        if not expected:
            expected = list(
                {r.pk: r for s in specs if (r := runbooks.get(s.runbook_slug))}.values()
            )
        scenario.expected_runbooks.set(expected)
    return scenario


def record_scenario(
    *,
    team: Team,
    title: str,
    occurrences: Sequence[AlertOccurrence],
    by: AbstractBaseUser | None = None,
    edits: dict[int, tuple[dict, dict]] | None = None,
    injects: Iterable[tuple[int, str]] = (),
    **details,
) -> Scenario:
    """A scenario of the picked occurrences (StepError names a bad step; nothing stored)."""
    specs = check_steps(steps_from_occurrences(occurrences, edits=edits, injects=injects))
    return store_scenario(team=team, title=title, specs=specs, by=by, **details)
