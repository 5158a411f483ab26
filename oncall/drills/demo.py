"""Demo drills for payments: a night of its alert history recorded as a scenario,
one drill the trainee passed (graded by the primary) and one scheduled; and live
pages as practice: a page of the trainee's shadow shift on now with their
response, and a past shift whose page the primary compared and marked handled well.

Idempotent like the rest of ``seed_demo``: each part is created only when absent.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall.alerts.models import AlertOccurrence
from oncall.drills import live, running
from oncall.drills.models import Drill, Response, ResponseEvent, Scenario
from oncall.drills.record import record_scenario, team_alerts
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Team

SCENARIO_TITLE = "Payments API errors after the pool change"
FINGERPRINT_PREFIX = "demo-drill-"
# The night the demo's history is of, in days before the seed, and its alerts:
# (minutes after 03:00, minutes to resolve, alertname, service, runbook slug, summary).
NIGHT_DAYS_AGO = 9
HISTORY = [
    (0, 42, "PaymentsApiHighErrorRate", "payments-api", "payments-api/error-rate-high",
     "5xx above 5% on payments-api"),
    (3, 38, "PaymentsApiLatencyHigh", "payments-api", "payments-api/latency-high",
     "p99 latency above 2 s on payments-api"),
    (6, 20, "PaymentsDbConnectionsSaturated", "payments-db", "",
     "payments-db connection pool at 100%"),
]  # fmt: skip


def seed(out) -> None:
    User = get_user_model()
    team = Team.objects.filter(slug="payments").first()
    lead = User.objects.filter(username="lead").first()
    primary = User.objects.filter(username="primary").first()
    trainee = User.objects.filter(username="trainee").first()
    if not (team and lead and primary and trainee):
        return
    now = timezone.now()
    # The primary runs the demo's drills (a primary of the team's shifts may); else the lead.
    game_master = primary if running.may_run_drills(primary, team) else lead
    scenario = Scenario.objects.filter(team=team, title=SCENARIO_TITLE).first()
    if scenario is None:
        scenario = _record(team, game_master, now)
        out(f"drill scenario {SCENARIO_TITLE!r} recorded from the alerts of that night")
    if not _drills(scenario, trainee).filter(grade=Drill.Grade.PASS).exists():
        passed_drill(scenario, trainee, game_master, at=now - timedelta(days=2, hours=3))
        out(f"drill passed by trainee, graded by {game_master.username}")
    if not _drills(scenario, trainee).filter(state=Drill.State.SCHEDULED).exists():
        at = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        running.schedule_drill(scenario=scenario, trainee=trainee, game_master=game_master, at=at)
        out("drill scheduled for trainee in two days")
    shifts = ShadowShift.objects.filter(team=team, trainee=trainee).exclude(
        state=ShadowShift.State.CANCELLED
    )
    on_now = shifts.filter(starts_at__lte=now, ends_at__gt=now).order_by("starts_at").first()
    if on_now is not None and _live_page_on_now(on_now, trainee, now):
        out("a live page on the shift on now, with the trainee's response")
    past = shifts.filter(ends_at__lte=now).order_by("starts_at").first()
    if past is not None and _compared_page(past, trainee, now):
        out(f"a past shift's page compared and marked handled well by {past.primary.username}")


def _drills(scenario: Scenario, trainee):
    return Drill.objects.filter(scenario=scenario, trainee=trainee)


def _record(team: Team, by, now: datetime) -> Scenario:
    """Store the night's alerts (once), then record them as the game master would."""
    night = timezone.localtime(now - timedelta(days=NIGHT_DAYS_AGO), team.tz).replace(
        hour=3, minute=0, second=0, microsecond=0
    )
    for minutes, resolve, alertname, service, slug, summary in HISTORY:
        starts = night + timedelta(minutes=minutes)
        fingerprint = f"{FINGERPRINT_PREFIX}{alertname.lower()}"
        if AlertOccurrence.objects.filter(team=team, fingerprint=fingerprint).exists():
            continue
        AlertOccurrence.objects.create(
            fingerprint=fingerprint,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=resolve),
            status=AlertOccurrence.Status.RESOLVED,
            team=team,
            alertname=alertname,
            alert_key=alertname.lower(),
            labels={"alertname": alertname, "severity": "critical", "service": service},
            annotations={"summary": summary},
            runbook=Runbook.objects.filter(slug=slug).first() if slug else None,
            received_at=starts,
            last_seen_at=starts + timedelta(minutes=resolve),
        )
    occurrences = list(team_alerts(team, night, night + timedelta(hours=1)))
    return record_scenario(
        team=team,
        title=SCENARIO_TITLE,
        occurrences=occurrences,
        by=by,
        brief="Payments look unhappy at 3 a.m. You are on call.",
        hidden_notes=(
            "A deploy at 02:58 lowered the database pool to 5 connections. "
            "If they look at latency first, release the pool inject."
        ),
        root_cause="The connection-pool setting shipped in the 02:58 deploy",
        injects=[(240, "The pool graph for payments-db is flat at 5 of 5 since 02:58.")],
    )


def passed_drill(scenario: Scenario, trainee, game_master, *, at: datetime) -> Drill:
    """A drill of ``scenario`` worked at ``at`` through the drill workflows and
    graded pass by ``game_master``: acknowledged after 2:10, the first runbook
    opened after 4:30, mitigated after 18 minutes."""
    drill = running.schedule_drill(
        scenario=scenario, trainee=trainee, game_master=game_master, now=at
    )
    end = at + timedelta(minutes=18)
    for step in scenario.steps.order_by("position"):
        if step.offset <= (end - at).total_seconds():
            running.play_step(drill, step, now=at + timedelta(seconds=step.offset))
    running.acknowledge(drill=drill, by=trainee, now=at + timedelta(minutes=2, seconds=10))
    runbook = scenario.steps.exclude(runbook=None).values_list("runbook", flat=True).first()
    if runbook is not None:
        running.open_runbook(drill=drill, by=trainee, runbook=Runbook.objects.get(pk=runbook))
        # Worked in the past: the runbook was opened then, not now.
        ResponseEvent.objects.filter(
            response__drill=drill, kind=ResponseEvent.Kind.RUNBOOK_OPENED
        ).update(at=at + timedelta(minutes=4, seconds=30))
    running.end_response(
        drill=drill,
        by=trainee,
        choice=Response.EndChoice.MITIGATED,
        text="Rolled back the 02:58 deploy; errors back under 1%.",
        now=end,
    )
    running.grade(
        drill=drill,
        by=game_master,
        result=Drill.Grade.PASS,
        root_cause_named=True,
        now=end + timedelta(minutes=10),
    )
    drill.refresh_from_db()
    return drill


LIVE_PREFIX = "demo-live-"
LIVE_ALERT = ("PaymentsApiHighErrorRate", "payments-api", "payments-api/error-rate-high")


def _live_page(shift: ShadowShift, at: datetime, *, ended: datetime | None) -> AlertOccurrence:
    alertname, service, slug = LIVE_ALERT
    return AlertOccurrence.objects.create(
        fingerprint=f"{LIVE_PREFIX}{shift.pk}",
        starts_at=at,
        ends_at=ended,
        status=AlertOccurrence.Status.RESOLVED if ended else AlertOccurrence.Status.FIRING,
        team=shift.team,
        alertname=alertname,
        alert_key=alertname.lower(),
        labels={"alertname": alertname, "severity": "critical", "service": service},
        annotations={"summary": "5xx above 5% on payments-api"},
        runbook=Runbook.objects.filter(slug=slug).first(),
        received_at=at,
        last_seen_at=ended or at,
    )


def _live_page_on_now(shift: ShadowShift, trainee, now: datetime) -> bool:
    """One page of the shift on now, acknowledged by the trainee with a hypothesis
    (through the same workflows as a click); False when it is there already."""
    if AlertOccurrence.objects.filter(fingerprint=f"{LIVE_PREFIX}{shift.pk}").exists():
        return False
    at = max(shift.starts_at, now - timedelta(minutes=20))
    page = _live_page(
        shift, at, ended=at + timedelta(minutes=12) if at + timedelta(minutes=12) < now else None
    )
    live.acknowledge(shift=shift, occurrence=page, by=trainee, now=at + timedelta(seconds=90))
    live.add_note(
        shift=shift,
        occurrence=page,
        by=trainee,
        text="The error rate rose with the 14:00 deploy: a bad release?",
        hypothesis=True,
    )
    return True


def _compared_page(shift: ShadowShift, trainee, now: datetime) -> bool:
    """A page of a past shift, the trainee's response as it was written then, and
    the primary's account and mark; False when it is there already."""
    if AlertOccurrence.objects.filter(fingerprint=f"{LIVE_PREFIX}{shift.pk}").exists():
        return False
    at = shift.starts_at + min(timedelta(minutes=70), (shift.ends_at - shift.starts_at) / 3)
    page = _live_page(shift, at, ended=at + timedelta(minutes=25))
    response = Response.objects.create(
        responder=trainee,
        shift=shift,
        occurrence=page,
        acknowledged_at=at + timedelta(minutes=2, seconds=5),
        hypothesis="A card network times out: the acquirer, not us.",
        end_choice=Response.EndChoice.MITIGATED,
        end_text="Failed over to the secondary acquirer with the primary.",
        ended_at=at + timedelta(minutes=24),
    )
    kinds = ResponseEvent.Kind
    for minutes, kind, text in (
        (2.1, kinds.ACKNOWLEDGED, ""),
        (4.5, kinds.RUNBOOK_OPENED, ""),
        (9, kinds.HYPOTHESIS, response.hypothesis),
        (24, kinds.ENDED, response.end_text),
    ):
        ResponseEvent.objects.create(
            response=response,
            kind=kind,
            at=at + timedelta(minutes=minutes),
            by=trainee,
            text=text,
            runbook=page.runbook if kind == kinds.RUNBOOK_OPENED else None,
        )
    live.review(
        shift=shift,
        occurrence=page,
        by=shift.primary,
        mark=Response.Mark.HANDLED_WELL,
        account="Checked the acquirer status page, then failed over at 14:32.",
        note="Acknowledged within 3 minutes and went to the acquirer first, as the runbook says.",
        now=min(now, shift.ends_at + timedelta(hours=1)),
    )
    return True
