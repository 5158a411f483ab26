"""What a person has shown in drills and on live pages, and how fast they respond.

The one place that reads drills and responses for readiness. The gate counts
``passed`` against drill items and ``pages_handled`` against
respond-to-pages items; the trainee's checklist and the leads' dashboard show
the same counts and medians, so every page says the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    Subquery,
)

from oncall.drills.models import Drill, DrillPage, Response, ResponseEvent
from oncall.drills.timeline import clock
from oncall.teams.models import Membership

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


# -- live pages ----------------------------------------------------------------------


def _handled_well(team_id: int) -> Q:
    """A live response in the team marked handled well by the shift's primary or
    a lead of the team, never by its own responder."""
    by_a_lead = Exists(
        Membership.objects.filter(
            team_id=team_id, user_id=OuterRef("marked_by_id"), role=Membership.Role.LEAD
        )
    )
    return (
        Q(occurrence__isnull=False, occurrence__team_id=team_id, mark=Response.Mark.HANDLED_WELL)
        & ~Q(marked_by_id=F("responder_id"))
        & (Q(marked_by_id=F("shift__primary_id")) | by_a_lead)
    )


def pages_handled_counts(
    team_id: int, responder_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Live pages each person's response to was marked handled well, in a team (one query).

    A mark counts when it was given by the primary of the response's shift or
    by a lead of the team, and never by the responder: a trainee's own mark
    (were one ever stored) counts for nothing. ``needs_work`` counts for
    nothing either. ``responder_ids`` None reads everyone (the dashboard).
    """
    responses = Response.objects.filter(_handled_well(team_id))
    if responder_ids is not None:
        responses = responses.filter(responder_id__in=list(responder_ids))
    rows = responses.values("responder_id").annotate(n=Count("id")).order_by()
    return {row["responder_id"]: row["n"] for row in rows}


def pages_handled(team_id: int, responder_id: int) -> int:
    """One person's live pages handled well in a team (one query)."""
    return pages_handled_counts(team_id, [responder_id]).get(responder_id, 0)


# -- response times, live and drills, for the leads' dashboard ------------------------

WINDOW = timedelta(days=30)
TREND_WEEKS = 12


@dataclass(frozen=True, slots=True)
class Times:
    """Responses of one kind (live or drill) and their median times."""

    count: int = 0
    median_ack: timedelta | None = None
    median_first_runbook: timedelta | None = None

    @property
    def ack_clock(self) -> str:
        return clock(self.median_ack) or "—"

    @property
    def first_runbook_clock(self) -> str:
        return clock(self.median_first_runbook) or "—"


NO_TIMES = Times()


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """A person's responses in a team: the last 30 days, and week by week since they started."""

    live: Times = NO_TIMES  # live pages in the window
    drills: Times = NO_TIMES  # drill pages in the window
    # (monday of the week, median time to acknowledge, responses) since the
    # onboarding started, oldest first, at most TREND_WEEKS weeks.
    trend: list[tuple[date, timedelta | None, int]] = field(default_factory=list)
    handled_well: int = 0  # live pages handled well, ever (``pages_handled``)


NO_RESPONSES = ResponseRecord()


@dataclass(slots=True)
class _Seen:
    """One response: when it was paged, live or not, and its two times."""

    paged_at: datetime
    live: bool
    ack: timedelta | None
    first_runbook: timedelta | None


def response_records(
    team_id: int, started: dict[int, datetime], *, now: datetime, tz
) -> dict[int, ResponseRecord]:
    """Each person's response times in a team, live pages and drills, and
    their live pages handled well, in one query.

    ``started`` maps each responder to when their onboarding started: the
    trend begins there (at most ``TREND_WEEKS`` weeks back).

    1. Read the responses of those people in the team paged since the
       earliest start or the window's (whichever is earlier), and their live
       responses handled well whenever (the same rule as ``pages_handled``):
       live pages (the occurrence's team, paged when it was received) and
       drills (the drill's team, paged at its first page), each with its
       acknowledgement and its first runbook opened.
    2. The last 30 days: per person and kind, the count and the medians
       (a response never acknowledged counts, but has no time to acknowledge).
    3. The trend: per week (Monday to Sunday in the team's zone) since the
       onboarding started, the median time to acknowledge, live and drills together.
    """
    if not started:
        return {}
    window_start = now - WINDOW
    earliest = max(now - timedelta(weeks=TREND_WEEKS), min(started.values()))
    since = min(window_start, earliest)
    handled_well = _handled_well(team_id)
    first_page = DrillPage.objects.filter(drill_id=OuterRef("drill_id")).order_by("fired_at")
    first_runbook = ResponseEvent.objects.filter(
        response_id=OuterRef("pk"),
        kind=ResponseEvent.Kind.RUNBOOK_OPENED,
        runbook__isnull=False,
    ).order_by("at")
    rows = (
        Response.objects.filter(responder_id__in=list(started))
        .filter(
            Q(occurrence__team_id=team_id, occurrence__received_at__gte=since)
            | Q(drill__team_id=team_id, drill__started_at__gte=since)
            | handled_well
        )
        .annotate(
            handled_well=ExpressionWrapper(handled_well, output_field=BooleanField()),
            first_page=Subquery(first_page.values("fired_at")[:1]),
            first_runbook=Subquery(first_runbook.values("at")[:1]),
        )
        .values_list(
            "responder_id",
            "drill_id",
            "acknowledged_at",
            "occurrence__received_at",
            "first_page",
            "first_runbook",
            "handled_well",
        )
        .order_by()
    )
    seen: dict[int, list[_Seen]] = {person: [] for person in started}
    handled: dict[int, int] = dict.fromkeys(started, 0)
    for person, drill_id, ack, received_at, fired_at, first, well in rows:
        live = drill_id is None
        if live and well:
            handled[person] += 1
        paged_at = received_at if live else fired_at
        if paged_at is None or paged_at < since:  # not fired yet, or only read for the count
            continue
        seen[person].append(
            _Seen(
                paged_at=paged_at,
                live=live,
                ack=ack - paged_at if ack else None,
                first_runbook=first - paged_at if first else None,
            )
        )
    return {
        person: ResponseRecord(
            live=_times([s for s in items if s.live and s.paged_at >= window_start]),
            drills=_times([s for s in items if not s.live and s.paged_at >= window_start]),
            trend=_trend(items, started[person], now=now, tz=tz),
            handled_well=handled[person],
        )
        for person, items in seen.items()
    }


def _times(items: list[_Seen]) -> Times:
    if not items:
        return NO_TIMES
    return Times(
        count=len(items),
        median_ack=_median([s.ack for s in items if s.ack is not None]),
        median_first_runbook=_median(
            [s.first_runbook for s in items if s.first_runbook is not None]
        ),
    )


def _monday(moment: datetime, tz) -> date:
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def _trend(
    items: list[_Seen], started: datetime, *, now: datetime, tz
) -> list[tuple[date, timedelta | None, int]]:
    last = _monday(now, tz)
    first = max(_monday(started, tz), last - timedelta(weeks=TREND_WEEKS - 1))
    weeks: dict[date, list[timedelta]] = {}
    counts: dict[date, int] = {}
    for s in items:
        week = _monday(s.paged_at, tz)
        if week < first:
            continue
        counts[week] = counts.get(week, 0) + 1
        if s.ack is not None:
            weeks.setdefault(week, []).append(s.ack)
    out = []
    week = first
    while week <= last:
        out.append((week, _median(weeks.get(week, [])), counts.get(week, 0)))
        week += timedelta(weeks=1)
    return out
