"""The leads' dashboard: one row per onboarding, computed in a fixed number of queries."""

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from oncall.readiness import chart, gate, practice
from oncall.readiness.models import ItemProgress, Kind, Onboarding
from oncall.shifts.models import ShadowShift
from oncall.teams.dates import format_date
from oncall.teams.models import Team
from oncall.teams.people import display_name

STALLED_AFTER_DAYS = 7

SORTS = {
    "name": lambda row: (row.name.lower(),),
    "progress": lambda row: (row.result.percent, row.name.lower()),
    "left": lambda row: (row.result.left, row.name.lower()),
    "activity": lambda row: (row.idle_days, row.name.lower()),
    "target": lambda row: (row.onboarding.target_date or date.max, row.name.lower()),
    "state": lambda row: (STATE_ORDER[row.state], row.result.percent, row.name.lower()),
}
STATE_LABELS = {
    Onboarding.State.READY: _("ready"),
    Onboarding.State.IN_PROGRESS: _("in progress"),
    Onboarding.State.CLEARED: _("cleared"),
}
STATE_ORDER = {
    Onboarding.State.READY: 0,
    Onboarding.State.IN_PROGRESS: 1,
    Onboarding.State.CLEARED: 2,
}


class TeamResponses:
    """The team's response records, read in one query the first time a row asks.

    The dashboard's table asks; the CSV export, which shows no response
    times, never does (unless a checklist counts live pages, which the gate
    must read)."""

    def __init__(self, team: Team, started: dict[int, datetime], *, now: datetime):
        self.team, self.started, self.now = team, started, now

    @cached_property
    def records(self) -> dict[int, practice.ResponseRecord]:
        return practice.response_records(self.team.pk, self.started, now=self.now, tz=self.team.tz)

    def of(self, engineer_id: int) -> practice.ResponseRecord:
        return self.records.get(engineer_id, practice.NO_RESPONSES)


@dataclass
class Row:
    onboarding: Onboarding
    result: gate.GateResult
    idle_days: int
    today: date
    drills: practice.DrillRecord = practice.NO_DRILLS
    team_responses: TeamResponses | None = None

    @property
    def responses(self) -> practice.ResponseRecord:
        if self.team_responses is None:
            return practice.NO_RESPONSES
        return self.team_responses.of(self.onboarding.engineer_id)

    @property
    def name(self) -> str:
        return display_name(self.onboarding.engineer)

    @cached_property
    def url(self) -> str:
        return reverse("readiness:onboarding", args=[self.onboarding.pk])

    @property
    def state(self) -> str:
        """What the gate says now (a clearance stands until a lead reopens it)."""
        if self.onboarding.state == Onboarding.State.CLEARED:
            return Onboarding.State.CLEARED
        return Onboarding.State.READY if self.result.passed else Onboarding.State.IN_PROGRESS

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def stalled(self) -> bool:
        return self.state == Onboarding.State.IN_PROGRESS and self.idle_days >= STALLED_AFTER_DAYS

    @property
    def overdue(self) -> bool:
        target = self.onboarding.target_date
        return target is not None and target < self.today and self.state != Onboarding.State.CLEARED


def team_rows(team: Team, *, sort: str = "state", now: datetime | None = None) -> list[Row]:
    """Every onboarding of the team with its gate result, sorted.

    1. Load the onboardings with their engineers (one query) and their items
       with each runbook's current revision id (one query).
    2. Count done shadow shifts per trainee and kind for the team (one query),
       read each trainee's drill record in the team (one query), and their
       responses when something asks (one query: the gate, for a checklist
       that counts live pages; the table, for the response times): live
       pages handled well, and response times, live and drills, over the last
       30 days and week by week since they started.
    3. Evaluate the gate per onboarding in memory. The stored state is
       reconcile's to write; a page only reads.
    """
    now = now or timezone.now()
    today = timezone.localdate(now, team.tz)
    onboardings = list(
        Onboarding.objects.filter(team=team)
        .select_related("engineer")
        .only(
            "id",
            "team_id",
            "engineer_id",
            "started_at",
            "target_date",
            "state",
            "ready_at",
            "cleared_at",
            "last_activity_at",
            "engineer__username",
            "engineer__first_name",
            "engineer__last_name",
        )
    )
    # Items as plain tuples: building 8,000 model instances would cost more
    # than everything else on the page together.
    facts = gate.facts_by_onboarding(
        ItemProgress.objects.filter(onboarding_id__in=[o.pk for o in onboardings]).order_by(
            "order", "id"
        )
    )
    shift_counts = gate.team_shift_counts(team.pk)
    drill_records = practice.drill_records(team.pk)
    started: dict[int, datetime] = {}
    for onboarding in onboardings:
        engineer = onboarding.engineer_id
        started[engineer] = min(started.get(engineer, onboarding.started_at), onboarding.started_at)
    responses = TeamResponses(team, started, now=now)
    pages_kind = str(Kind.RESPOND_TO_PAGES)
    rows = []
    for onboarding in onboardings:
        counts = {
            kind: shift_counts.get((onboarding.engineer_id, kind), 0)
            for kind in ShadowShift.Kind.values
        }
        drills = drill_records.get(onboarding.engineer_id, practice.NO_DRILLS)
        own_facts = facts.get(onboarding.pk, [])
        counts_pages = any(f.kind == pages_kind for f in own_facts)
        result = gate.evaluate(
            onboarding,
            facts=own_facts,
            shift_counts=counts,
            drills_passed=drills.passed,
            pages_handled_well=(
                responses.of(onboarding.engineer_id).handled_well if counts_pages else 0
            ),
            with_statuses=False,
        )
        idle = max((now - onboarding.last_activity_at).days, 0)
        rows.append(
            Row(
                onboarding=onboarding,
                result=result,
                idle_days=idle,
                today=today,
                drills=drills,
                team_responses=responses,
            )
        )
    key = sort.removeprefix("-")
    rows.sort(key=SORTS.get(key, SORTS["state"]), reverse=sort.startswith("-"))
    return rows


# Open questions in a debrief still unanswered after this long reach the lead.
UNANSWERED_AFTER = timedelta(days=3)


def unanswered_questions(team: Team, *, now: datetime | None = None) -> list[ShadowShift]:
    """Debriefs of the team whose open questions wait for the primary for 3 days or more."""
    now = now or timezone.now()
    return list(
        ShadowShift.objects.filter(
            team=team,
            debriefed_at__lte=now - UNANSWERED_AFTER,
            answered_at__isnull=True,
        )
        .exclude(debrief_open_questions="")
        .select_related("trainee", "primary")
        .order_by("debriefed_at")[:10]
    )


def cell_labels() -> dict[str, str]:
    """Each column's name, escaped: a phone shows the table as one card per
    person with every value labelled (``data-label``)."""
    live_drills = gettext("live / drills")
    return {
        key: escape(label)
        for key, label in {
            "name": gettext("Engineer"),
            "progress": gettext("Progress"),
            "left": gettext("Required left"),
            "shadow": gettext("Shadow"),
            "reverse": gettext("Reverse"),
            "drills": gettext("Drills passed"),
            "pages": gettext("Pages, last 30 days") + f" ({live_drills})",
            "ack": gettext("Median time to acknowledge") + f" ({live_drills})",
            "runbook": gettext("Median time to first runbook") + f" ({live_drills})",
            "trend": gettext("Time to acknowledge by week"),
            "activity": gettext("Days idle"),
            "target": gettext("Target date"),
            "state": gettext("State"),
        }.items()
    }


def _pair(live: str | int, drills: str | int, css: str) -> str:
    """Live and drills side by side in one cell."""
    return (
        f'<span class="pair {css}"><span class="pair__live">{live}</span>'
        f'<span class="pair__sep" aria-hidden="true">/</span>'
        f'<span class="pair__drills">{drills}</span></span>'
    )


def table_rows(rows: list[Row]) -> list[SafeString]:
    """The dashboard's table rows as HTML.

    Built here rather than in the template: 200 rows through the template
    engine cost more than the rest of the page. Every text value passes
    through ``escape``; the rest are numbers, ISO dates and constants.
    """
    label = cell_labels()
    sign_off, reread = escape(gettext("to sign off")), escape(gettext("to re-read"))
    # Outside the f-strings: the message extractor does not read inside them.
    stalled_word, overdue_word = escape(gettext("stalled")), escape(gettext("overdue"))
    stalled_badge = f' <span class="badge badge--warn">{stalled_word}</span>'
    overdue_badge = f' <span class="badge badge--danger">{overdue_word}</span>'
    state_labels = {state: escape(str(label)) for state, label in STATE_LABELS.items()}
    no_target = '<span class="muted">—</span>'
    out = []
    for row in rows:
        r, o = row.result, row.onboarding
        stalled, overdue = row.stalled, row.overdue
        name = escape(row.name)
        css = " ".join(c for c, on in (("row--stalled", stalled), ("row--overdue", overdue)) if on)
        badges = ""
        if r.awaiting_signoff:
            badges += f' <span class="badge badge--info">{r.awaiting_signoff} {sign_off}</span>'
        if r.changed_since_read:
            badges += f' <span class="badge badge--warn">{r.changed_since_read} {reread}</span>'
        if o.target_date is not None:
            day = escape(format_date(o.target_date, "short_date"))
            target = f'<time datetime="{o.target_date.isoformat()}">{day}</time>'
            target += overdue_badge if overdue else ""
        else:
            target = no_target
        live, drills = row.responses.live, row.responses.drills
        out.append(
            mark_safe(  # noqa: S308 - every text value above is escaped
                f'<tr class="{css}">'
                f'<th scope="row" class="cell-name" data-label="{label["name"]}">'
                f'<a href="{escape(row.url)}">{name}</a></th>'
                f'<td class="cell-progress" data-label="{label["progress"]}">'
                f'<progress value="{r.percent}" max="100"'
                f' aria-label="{name}">{r.percent}%</progress>'
                f' <span class="small">{r.percent}%</span></td>'
                f'<td title="{escape(r.explanation)}" data-label="{label["left"]}">'
                f"{r.left}{badges}</td>"
                f'<td data-label="{label["shadow"]}">{r.shadow_done}/{r.shadow_required}</td>'
                f'<td data-label="{label["reverse"]}">{r.reverse_done}/{r.reverse_required}</td>'
                f'<td class="cell-drills" data-label="{label["drills"]}">{row.drills.passed}</td>'
                f'<td data-label="{label["pages"]}">'
                f"{_pair(live.count, drills.count, 'pair--pages')}</td>"
                f'<td data-label="{label["ack"]}">'
                f"{_pair(live.ack_clock, drills.ack_clock, 'pair--ack')}</td>"
                f'<td data-label="{label["runbook"]}">'
                f"{_pair(live.first_runbook_clock, drills.first_runbook_clock, 'pair--runbook')}"
                "</td>"
                f'<td class="cell-trend" data-label="{label["trend"]}">'
                f"{chart.trend_svg(row.responses.trend)}</td>"
                f'<td data-label="{label["activity"]}">'
                f"{row.idle_days}{stalled_badge if stalled else ''}</td>"
                f'<td data-label="{label["target"]}">{target}</td>'
                f'<td data-label="{label["state"]}">'
                f'<span class="badge badge--{row.state}">{state_labels[row.state]}</span></td>'
                "</tr>"
            )
        )
    return out


# Column names in the reader's language; the context keeps them apart from words elsewhere.
CSV_HEADER = [
    pgettext_lazy("csv column", "engineer"),
    pgettext_lazy("csv column", "username"),
    pgettext_lazy("csv column", "state"),
    pgettext_lazy("csv column", "progress_percent"),
    pgettext_lazy("csv column", "required_done"),
    pgettext_lazy("csv column", "required_total"),
    pgettext_lazy("csv column", "shadow_done"),
    pgettext_lazy("csv column", "shadow_required"),
    pgettext_lazy("csv column", "reverse_shadow_done"),
    pgettext_lazy("csv column", "reverse_shadow_required"),
    pgettext_lazy("csv column", "days_since_activity"),
    pgettext_lazy("csv column", "stalled"),
    pgettext_lazy("csv column", "target_date"),
    pgettext_lazy("csv column", "overdue"),
    pgettext_lazy("csv column", "started"),
    pgettext_lazy("csv column", "cleared_on"),
    pgettext_lazy("csv column", "missing"),
]


def write_csv(rows: list[Row], out, *, tz) -> None:
    """One line per onboarding: names as the dashboard shows them, dates in the team's zone."""
    writer = csv.writer(out)
    writer.writerow([str(name) for name in CSV_HEADER])
    yes, no = pgettext("csv value", "yes"), pgettext("csv value", "no")
    for row in rows:
        o, r = row.onboarding, row.result
        writer.writerow(
            [
                _csv_safe(row.name),
                _csv_safe(o.engineer.get_username()),
                row.state,
                r.percent,
                r.done,
                r.total,
                r.shadow_done,
                r.shadow_required,
                r.reverse_done,
                r.reverse_required,
                row.idle_days,
                yes if row.stalled else no,
                o.target_date.isoformat() if o.target_date else "",
                yes if row.overdue else no,
                timezone.localdate(o.started_at, tz).isoformat(),
                timezone.localdate(o.cleared_at, tz).isoformat() if o.cleared_at else "",
                # A spreadsheet must not run what a name or title starts with.
                _csv_safe("; ".join(r.missing)),
            ]
        )


def _csv_safe(value: str) -> str:
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
