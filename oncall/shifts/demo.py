"""Demo shifts: the trainee shadowing the primary in payments (Asia/Tokyo).

Two past shifts (done, one debriefed), three upcoming shadow shifts and one
upcoming reverse shadow, at office hours in Tokyo relative to today. Runs
once: a trainee who already has shifts is left alone. Besides, one shadow
shift is on *now* whenever seed_demo runs, so a fired alert can be tried at once.
"""

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Max, Min, Q
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
ON_NOW_FOR = timedelta(hours=4)


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
    if not ShadowShift.objects.filter(team=team, trainee=trainee).exists():
        _seed_plan(team, trainee, primary, lead, out)
    _seed_shift_on_now(team, trainee, primary, lead, out)


def _seed_plan(team, trainee, primary, lead, out) -> None:
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


def _seed_shift_on_now(team, trainee, primary, lead, out) -> None:
    """A shadow shift going on now, so an alert fired at once reaches the trainee.

    It runs from the top of the hour for four hours, cut short before the
    pair's next shift and begun after their last one; every run of seed_demo
    adds one only when the trainee has no shift on.
    """
    now = timezone.now()
    pair = Q(trainee__in=[trainee, primary]) | Q(primary__in=[trainee, primary])
    shifts = ShadowShift.objects.exclude(state=ShadowShift.State.CANCELLED).filter(pair)
    if shifts.filter(starts_at__lte=now, ends_at__gt=now).exists():
        return
    starts_at = now.replace(minute=0, second=0, microsecond=0)
    ends_at = starts_at + ON_NOW_FOR
    last_end = shifts.filter(ends_at__lte=now, ends_at__gt=starts_at).aggregate(m=Max("ends_at"))[
        "m"
    ]
    next_start = shifts.filter(starts_at__gt=now, starts_at__lt=ends_at).aggregate(
        m=Min("starts_at")
    )["m"]
    starts_at, ends_at = max(starts_at, last_end or starts_at), min(ends_at, next_start or ends_at)
    if ends_at - now < timedelta(minutes=30):
        return
    ShadowShift.objects.create(
        team=team,
        trainee=trainee,
        primary=primary,
        kind=ShadowShift.Kind.SHADOW,
        starts_at=starts_at,
        ends_at=ends_at,
        time_zone=team.time_zone,
        created_by=lead,
    )
    out(
        f"a shadow shift on now for {trainee.username}, until {ends_at.astimezone(team.tz):%H:%M %Z}"
    )
