"""Demo shifts: the trainee shadowing the primary in payments (Asia/Tokyo).

Two past shifts (done, one debriefed), three upcoming shadow shifts and one
upcoming reverse shadow, at office hours in Tokyo relative to today. Runs
once: a trainee who already has shifts is left alone.
"""

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Team

# (days from today, local start, local end, kind)
PLAN = [
    (-6, time(10), time(18), ShadowShift.Kind.SHADOW),
    (-3, time(10), time(18), ShadowShift.Kind.SHADOW),
    (1, time(10), time(18), ShadowShift.Kind.SHADOW),
    (2, time(10), time(18), ShadowShift.Kind.SHADOW),
    (4, time(10), time(18), ShadowShift.Kind.SHADOW),
    (8, time(9), time(17), ShadowShift.Kind.REVERSE_SHADOW),
]


def _at(day: date, wall: time, team: Team) -> datetime:
    # Tokyo has no DST, so every wall time exists exactly once.
    return datetime.combine(day, wall, tzinfo=team.tz)


def seed(out) -> None:
    User = get_user_model()
    team = Team.objects.filter(slug="payments").first()
    trainee = User.objects.filter(username="trainee").first()
    primary = User.objects.filter(username="primary").first()
    lead = User.objects.filter(username="lead").first()
    if not (team and trainee and primary):
        return
    if ShadowShift.objects.filter(team=team, trainee=trainee).exists():
        return
    today = timezone.now().astimezone(team.tz).date()
    shifts = []
    for offset, start, end, kind in PLAN:
        day = today + timedelta(days=offset)
        shifts.append(
            ShadowShift.objects.create(
                team=team,
                trainee=trainee,
                primary=primary,
                kind=kind,
                starts_at=_at(day, start, team),
                ends_at=_at(day, end, team),
                time_zone=team.time_zone,
                created_by=lead,
            )
        )
    for shift in shifts:
        shift.book()
    first, second = shifts[0], shifts[1]
    first.mark_done(by=primary)
    second.mark_done(by=primary)
    first.write_debrief(
        pages_seen="PaymentsHighErrorRate at 14:10 (a card network timing out); "
        "PaymentsApiLatency at 16:40, cleared by itself.",
        made_sense="Checking the upstream status page before touching our pods.",
        open_questions="When do we fail over to the secondary acquirer, and who decides?",
        runbook_gaps="The error-rate runbook does not say how to read the acquirer dashboard.",
        runbooks=Runbook.objects.filter(team=team, archived=False).order_by("title")[:1],
    )
    out(f"{len(shifts)} shadow shifts for {trainee.username} with {primary.username}")
