from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from oncall.rotations import tasks
from oncall.rotations.forms import LinkForm, RotationForm, ShadowPlanForm
from oncall.rotations.models import PlanShift, Rotation, RotationShift, ShadowPlan
from oncall.rotations.read import link_person, read_rotation, reconcile_rotation
from oncall.rotations.reconcile import reconcile_plan
from oncall.shifts.calendar import local_midnight
from oncall.shifts.models import ShadowShift
from oncall.teams.access import is_lead, is_member
from oncall.teams.dates import format_relative
from oncall.teams.models import Team
from oncall.teams.people import display_name

WEEKS = 4


def _get_team_for_user(request: HttpRequest, slug: str, *, lead: bool = False) -> Team:
    """The team when the user is a member (a lead when ``lead``) or staff; else 404."""
    team = get_object_or_404(Team, slug=slug)
    user = request.user
    allowed = user.is_staff or (is_lead(user, team) if lead else is_member(user, team))
    if not allowed:
        raise Http404
    return team


@dataclass
class Entry:
    """One rotation shift as a day of the calendar shows it."""

    who: str
    known: bool
    note: str  # "09:00–21:00", "from 10:00", "until 10:00" or "" (all day)
    shadows: list[str]


@dataclass
class Day:
    day: date
    entries: list[Entry] = field(default_factory=list)


@dataclass
class RotationView:
    rotation: Rotation
    weeks: list[list[Day]]
    unmatched: list[tuple[str, int]]
    plans: list[ShadowPlan]
    last_read: str

    @property
    def unmatched_events(self) -> int:
        return sum(count for _name, count in self.unmatched)


def _note(shift: RotationShift, start: datetime, end: datetime, tz) -> str:
    starts, ends = shift.starts_at.astimezone(tz), shift.ends_at.astimezone(tz)
    begins_today, ends_today = shift.starts_at >= start, shift.ends_at <= end
    if begins_today and ends_today:
        return f"{starts:%H:%M}–{ends:%H:%M}"
    if begins_today:
        return _("from %(time)s") % {"time": f"{starts:%H:%M}"}
    if ends_today and ends.time() != datetime.min.time():
        return _("until %(time)s") % {"time": f"{ends:%H:%M}"}
    return ""


def _calendar(rows: list[RotationShift], shadows: dict, first: date, tz) -> list[list[Day]]:
    days = [Day(first + timedelta(days=n)) for n in range(7 * WEEKS)]
    bounds = [
        (local_midnight(d.day, tz), local_midnight(d.day + timedelta(days=1), tz)) for d in days
    ]
    for row in rows:
        who = display_name(row.person) if row.person else row.who
        for day, (start, end) in zip(days, bounds, strict=True):
            if row.starts_at < end and row.ends_at > start:
                day.entries.append(
                    Entry(
                        who,
                        row.person is not None,
                        _note(row, start, end, tz),
                        shadows.get(row.key, []),
                    )
                )
    return [days[n : n + 7] for n in range(0, len(days), 7)]


@require_safe
@login_required
def index(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_user(request, slug)
    lead = request.user.is_staff or is_lead(request.user, team)
    return render(request, "rotations/index.html", _context(request, team, lead=lead))


def _context(request: HttpRequest, team: Team, *, lead: bool, **forms) -> dict:
    tz = request.user.profile.tz
    now = timezone.now()
    today = now.astimezone(tz).date()
    first = today - timedelta(days=today.weekday())
    start, end = local_midnight(first, tz), local_midnight(first + timedelta(weeks=WEEKS), tz)

    live_links = PlanShift.objects.filter(shift__state=ShadowShift.State.SCHEDULED).select_related(
        "shift__trainee"
    )
    plans = (
        ShadowPlan.objects.filter(ends_on__gte=today - timedelta(days=30))
        .select_related("trainee")
        .prefetch_related(
            Prefetch(
                "links",
                queryset=PlanShift.objects.exclude(
                    clash_with=None, hand_edited=False
                ).select_related("clash_with", "clash_person", "shift"),
                to_attr="problems",
            )
        )
    )
    rotations = list(
        Rotation.objects.filter(team=team)
        .prefetch_related(
            Prefetch("plans", queryset=plans, to_attr="recent_plans"),
        )
        .order_by("name")
    )
    rows = defaultdict(list)
    for row in (
        RotationShift.objects.filter(rotation__team=team, starts_at__lt=end, ends_at__gt=start)
        .select_related("person")
        .order_by("starts_at")
    ):
        rows[row.rotation_id].append(row)
    shadows: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for link in live_links.filter(plan__rotation__team=team).select_related("plan"):
        shadows[link.plan.rotation_id][link.key].append(display_name(link.shift.trainee))
    unmatched: dict[int, Counter] = defaultdict(Counter)
    for rotation_id, name in RotationShift.objects.filter(
        rotation__team=team, person=None, ends_at__gt=now
    ).values_list("rotation_id", "name"):
        unmatched[rotation_id][name] += 1

    views = []
    for rotation in rotations:
        views.append(
            RotationView(
                rotation=rotation,
                weeks=_calendar(rows[rotation.pk], shadows[rotation.pk], first, tz),
                unmatched=sorted(unmatched[rotation.pk].items()),
                plans=rotation.recent_plans,
                last_read=format_relative(rotation.last_read_at, now)
                if rotation.last_read_at
                else "",
            )
        )
    return {
        "team": team,
        "lead": lead,
        "views": views,
        "today": today,
        "viewer_tz": tz,
        "rotation_form": forms.get("rotation_form") or (RotationForm(team=team) if lead else None),
        "plan_form": forms.get("plan_form")
        or (
            ShadowPlanForm(team=team, initial={"starts_on": today}) if lead and rotations else None
        ),
        "link_form": LinkForm(team=team) if lead else None,
    }


def _page(team: Team) -> str:
    return reverse("rotations:index", args=[team.slug])


@require_POST
@login_required
def add(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_user(request, slug, lead=True)
    form = RotationForm(request.POST, request.FILES, team=team)
    if not form.is_valid():
        return render(
            request,
            "rotations/index.html",
            _context(request, team, lead=True, rotation_form=form),
            status=400,
        )
    rotation = form.save(by=request.user)
    if rotation.url:
        # The network call runs on a worker, never in the request.
        transaction.on_commit(lambda: tasks.read_one.delay(rotation.pk))
        messages.success(request, _("Rotation added; its feed is being read."))
    else:
        result = read_rotation(rotation)
        if result.error:
            messages.error(request, result.error)
        else:
            messages.success(request, _("Rotation added from the file."))
    return redirect(_page(team))


@require_POST
@login_required
def add_plan(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_user(request, slug, lead=True)
    form = ShadowPlanForm(request.POST, team=team)
    if not form.is_valid():
        return render(
            request,
            "rotations/index.html",
            _context(request, team, lead=True, plan_form=form),
            status=400,
        )
    plan = form.save(by=request.user)
    outcome = reconcile_plan(plan)
    messages.success(
        request,
        _("Shadow plan saved: %(scheduled)s shadow shifts scheduled, %(skipped)s skipped.")
        % {"scheduled": outcome.scheduled, "skipped": outcome.skipped},
    )
    return redirect(_page(team))


@require_POST
@login_required
def link(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_user(request, slug, lead=True)
    form = LinkForm(request.POST, team=team)
    if not form.is_valid():
        messages.error(request, _("Choose a member of the team for this name."))
        return redirect(_page(team))
    name, user = form.cleaned_data["name"], form.cleaned_data["user"]
    count = link_person(team=team, name=name, user=user)
    for rotation in Rotation.objects.filter(team=team).select_related("team"):
        reconcile_rotation(rotation)
    messages.success(
        request,
        _("“%(name)s” is %(person)s now: %(count)s shifts updated.")
        % {"name": name, "person": display_name(user), "count": count},
    )
    return redirect(_page(team))


@require_POST
@login_required
def read_now(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _get_team_for_user(request, slug, lead=True)
    rotation = get_object_or_404(Rotation, team=team, pk=pk)
    transaction.on_commit(lambda: tasks.read_one.delay(rotation.pk))
    messages.success(request, _("The feed is being read; reload the page in a moment."))
    return redirect(_page(team))
