"""What a person has shown in drills: drills passed, and how fast they respond.

The one place that reads drills for readiness. The gate counts ``passed``
against drill items; the trainee's checklist and the leads' dashboard show
the passed count and the medians, so both pages say the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from statistics import median

from django.db.models import F, Min, Q

from oncall.drills.models import Drill, ResponseEvent
from oncall.drills.timeline import clock

# The medians are over the person's most recent graded drills.
RECENT = 5


@dataclass(frozen=True, slots=True)
class DrillRecord:
    passed: int = 0  # drills graded pass by someone other than the trainee
    graded: int = 0  # graded drills the medians are over (at most RECENT)
    median_ack: timedelta | None = None  # first page to acknowledged
    median_first_runbook: timedelta | None = None  # first page to the first runbook opened

    @property
    def ack_clock(self) -> str:
        """The median time to acknowledge as m:ss, "—" without one."""
        return clock(self.median_ack) or "—"

    @property
    def first_runbook_clock(self) -> str:
        return clock(self.median_first_runbook) or "—"


NO_DRILLS = DrillRecord()


def drill_records(team_id: int, trainee_ids: Iterable[int] | None = None) -> dict[int, DrillRecord]:
    """Each trainee's record in a team's graded drills, in one query.

    ``trainee_ids`` None reads every trainee of the team (the dashboard).

    1. Read the team's graded drills (of those trainees), newest grade first,
       each with its first page, its acknowledgement and its first runbook
       opened (the same times as the console's ``assess``).
    2. A drill counts as passed when graded ``pass`` by someone other than
       its trainee.
    3. The medians are over each trainee's last ``RECENT`` graded drills,
       pass or not yet, skipping a drill without that time (never acknowledged,
       no runbook opened).
    """
    drills = Drill.objects.filter(team_id=team_id, state=Drill.State.GRADED)
    if trainee_ids is not None:
        drills = drills.filter(trainee_id__in=list(trainee_ids))
    rows = (
        drills.values("pk", "trainee_id", "grade", "graded_by_id", "graded_at")
        .annotate(
            acknowledged_at=Min("response__acknowledged_at"),
            first_page=Min("pages__fired_at"),
            first_runbook=Min(
                "response__events__at",
                filter=Q(
                    response__events__kind=ResponseEvent.Kind.RUNBOOK_OPENED,
                    response__events__runbook__isnull=False,
                ),
            ),
        )
        .order_by("trainee_id", F("graded_at").desc(nulls_last=True), "-pk")
    )
    by_trainee: dict[int, list[dict]] = {}
    for row in rows:
        by_trainee.setdefault(row["trainee_id"], []).append(row)
    return {trainee: _record(trainee, rows) for trainee, rows in by_trainee.items()}


def drill_record(team_id: int, trainee_id: int) -> DrillRecord:
    """One trainee's record in a team (one query)."""
    return drill_records(team_id, [trainee_id]).get(trainee_id, NO_DRILLS)


def _record(trainee_id: int, rows: list[dict]) -> DrillRecord:
    passed = sum(
        1
        for row in rows
        if row["grade"] == Drill.Grade.PASS
        and row["graded_by_id"] is not None
        and row["graded_by_id"] != trainee_id
    )
    recent = rows[:RECENT]
    acks = [
        row["acknowledged_at"] - row["first_page"]
        for row in recent
        if row["acknowledged_at"] and row["first_page"]
    ]
    runbooks = [
        row["first_runbook"] - row["first_page"]
        for row in recent
        if row["first_runbook"] and row["first_page"]
    ]
    return DrillRecord(
        passed=passed,
        graded=len(recent),
        median_ack=_median(acks),
        median_first_runbook=_median(runbooks),
    )


def _median(times: list[timedelta]) -> timedelta | None:
    if not times:
        return None
    return timedelta(seconds=median(t.total_seconds() for t in times))
