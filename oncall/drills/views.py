from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from oncall.alerts.models import AlertOccurrence
from oncall.drills import files, live, running
from oncall.drills.forms import (
    ScenarioDetailsForm,
    ScheduleForm,
    WindowForm,
    local_input,
    parse_injects,
    parse_pairs,
    show_pairs,
)
from oncall.drills.models import Drill, DrillPage, Response, ResponseEvent, Scenario, ScenarioStep
from oncall.drills.record import record_scenario, team_alerts
from oncall.drills.running import DrillError
from oncall.drills.steps import StepError
from oncall.drills.timeline import assess, clock, minutes_label, offset_label, timeline
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Membership, Team

# The console polls for what changed: every 3 s while the drill runs, so a
# trainee's action reaches the game master's view well within 5 s; every 5 s
# while it waits to start.
REFRESH_RUNNING, REFRESH_WAITING = 3, 5


# -- access --


def _get_drill_for_user(request: HttpRequest, pk: int) -> Drill:
    """The drill when the user is its trainee, its game master or a lead of its team; else 404."""
    drill = (
        Drill.objects.visible_to(request.user)
        .select_related("scenario", "team", "trainee", "game_master", "graded_by")
        .filter(pk=pk)
        .first()
    )
    if drill is None:
        raise Http404
    return drill


def _get_team_for_game_master(request: HttpRequest, slug: str) -> Team:
    """The team when the user may run its drills (a lead, or a primary of its shifts); else 404."""
    team = get_object_or_404(Team, slug=slug)
    if not running.may_run_drills(request.user, team):
        raise Http404
    return team


def _get_scenario_for_user(request: HttpRequest, slug: str, pk: int) -> Scenario:
    team = _get_team_for_game_master(request, slug)
    return get_object_or_404(
        Scenario.objects.select_related("team", "created_by"), team=team, pk=pk
    )


# -- the console --


def console_context(request: HttpRequest, drill: Drill, *, error: str = "") -> dict:
    user = request.user
    is_trainee = user.pk == drill.trainee_id
    is_game_master = not is_trainee and running.may_grade(user, drill)
    response = Response.objects.get(drill=drill)
    pages = list(DrillPage.objects.filter(drill=drill).select_related("runbook"))
    events = list(
        ResponseEvent.objects.filter(response=response).select_related("runbook", "by", "step")
    )
    expected = list(drill.scenario.expected_runbooks.all())
    assessment = assess(drill, pages, events, expected, response.acknowledged_at)
    injects = []
    if is_game_master:
        released = set(
            drill.played.filter(step__kind=ScenarioStep.Kind.INJECT).values_list(
                "step_id", flat=True
            )
        )
        injects = [
            (step, offset_label(step.offset), step.pk in released)
            for step in drill.scenario.steps.filter(kind=ScenarioStep.Kind.INJECT)
        ]
    for page in pages:
        page.link = ""
        if page.runbook_id:
            # Opened from the console while the drill runs: the runbook page records it.
            page.link = page.runbook.get_absolute_url()
            if is_trainee and drill.is_running:
                page.link += f"?drill={drill.pk}"
    return {
        "drill": drill,
        "scenario": drill.scenario,
        "response": response,
        "pages": pages,
        "firing": sum(1 for p in pages if p.is_firing),
        "timeline": timeline(drill.started_at, pages, events),
        "assessment": assessment,
        "ack_clock": clock(assessment.time_to_ack),
        "runbook_clock": clock(assessment.time_to_first_runbook),
        "target_clock": clock(assessment.ack_target),
        "is_trainee": is_trainee,
        "is_game_master": is_game_master,
        "show_hidden": is_game_master or drill.is_over,
        "injects": injects,
        "live": drill.state in (Drill.State.SCHEDULED, Drill.State.RUNNING),
        "refresh_seconds": REFRESH_RUNNING if drill.is_running else REFRESH_WAITING,
        "now": timezone.now(),
        "viewer_tz": user.profile.tz,
        "error": error,
        "end_choices": Response.EndChoice.choices,
    }


@require_safe
@login_required
def console(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    context = console_context(request, drill)
    if request.htmx and request.htmx.target == "drill-live":
        return render(request, "drills/console.html#live", context)
    return render(request, "drills/console.html", context)


def _after_action(request: HttpRequest, drill: Drill, action, success: str = "") -> HttpResponse:
    """Run a console action; answer htmx with the console, a browser with a redirect."""
    error = ""
    try:
        action()
    except DrillError as e:
        error = str(e)
    if request.htmx:
        drill.refresh_from_db()
        return render(
            request, "drills/console.html#console", console_context(request, drill, error=error)
        )
    if error:
        messages.error(request, error)
    elif success:
        messages.success(request, success)
    return redirect(drill.get_absolute_url())


@require_POST
@login_required
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    return _after_action(request, drill, lambda: running.acknowledge(drill=drill, by=request.user))


@require_POST
@login_required
def note(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    return _after_action(
        request,
        drill,
        lambda: running.add_note(
            drill=drill,
            by=request.user,
            text=request.POST.get("text", ""),
            hypothesis=request.POST.get("hypothesis") == "on",
        ),
    )


@require_POST
@login_required
def end(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    return _after_action(
        request,
        drill,
        lambda: running.end_response(
            drill=drill,
            by=request.user,
            choice=request.POST.get("choice", ""),
            text=request.POST.get("text", ""),
        ),
    )


@require_POST
@login_required
def inject(request: HttpRequest, pk: int, step: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    found = ScenarioStep.objects.filter(pk=step, scenario_id=drill.scenario_id).first()
    if found is None:
        raise Http404
    return _after_action(
        request, drill, lambda: running.release_inject(drill=drill, by=request.user, step=found)
    )


@require_POST
@login_required
def finish(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    return _after_action(request, drill, lambda: running.finish(drill=drill, by=request.user))


@require_POST
@login_required
def grade(request: HttpRequest, pk: int) -> HttpResponse:
    drill = _get_drill_for_user(request, pk)
    return _after_action(
        request,
        drill,
        lambda: running.grade(
            drill=drill,
            by=request.user,
            result=request.POST.get("result", ""),
            reason=request.POST.get("reason", ""),
            root_cause_named=request.POST.get("root_cause_named") == "on",
        ),
    )


@require_safe
@login_required
def open_runbook(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    """The console's former runbook link: now the runbook page records the opening."""
    drill = _get_drill_for_user(request, pk)
    runbook = get_object_or_404(Runbook, slug=slug)
    return redirect(f"{runbook.get_absolute_url()}?drill={drill.pk}")


@require_safe
@login_required
def drill_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    drills = list(
        Drill.objects.visible_to(user)
        .select_related("scenario", "team", "trainee", "game_master")
        .order_by("-scheduled_at", "-id")[:200]
    )
    mine = [d for d in drills if d.trainee_id == user.pk]
    running_by_me = [d for d in drills if d.game_master_id == user.pk]
    seen = {d.pk for d in mine} | {d.pk for d in running_by_me}
    team = [d for d in drills if d.pk not in seen]
    # Teams whose scenarios this person may open: those they lead, or are a primary on.
    if user.is_staff:
        led = Team.objects.order_by("name")
    else:
        led = (
            Team.objects.filter(
                Q(memberships__user=user, memberships__role=Membership.Role.LEAD)
                | Q(memberships__user=user, shifts__primary=user)
            )
            .distinct()
            .order_by("name")
        )
    return render(
        request,
        "drills/list.html",
        {
            "mine": mine,
            "running_by_me": running_by_me,
            "team_drills": team,
            "led_teams": led,
            "viewer_tz": user.profile.tz,
        },
    )


# -- scenarios --


@require_safe
@login_required
def scenarios(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_game_master(request, slug)
    rows = (
        Scenario.objects.filter(team=team)
        .select_related("created_by")
        .prefetch_related(Prefetch("steps", queryset=ScenarioStep.objects.only("scenario", "kind")))
        .order_by("-created_at", "-id")
    )
    return render(request, "drills/scenarios.html", {"team": team, "scenarios": rows})


@login_required
def record(request: HttpRequest, slug: str) -> HttpResponse:
    """Pick the team's alerts of a time window and save them as a scenario."""
    team = _get_team_for_game_master(request, slug)
    tz = request.user.profile.tz
    now = timezone.now()
    source = request.POST if request.method == "POST" else request.GET
    shift = None
    if source.get("shift", "").isdigit():
        # From a past shift's alert timeline: the window is the shift.
        shift = ShadowShift.objects.filter(pk=int(source["shift"]), team=team).first()
    if "start" in source:
        window = WindowForm(source, tz=tz)
    elif shift is not None:
        window = WindowForm(
            {"start": local_input(shift.starts_at, tz), "end": local_input(shift.ends_at, tz)},
            tz=tz,
        )
    else:
        window = WindowForm(
            initial={
                "start": local_input(now - timedelta(days=1), tz),
                "end": local_input(now, tz),
            },
            tz=tz,
        )
    occurrences: list[AlertOccurrence] = []
    if window.is_bound and window.is_valid():
        occurrences = list(
            team_alerts(team, window.cleaned_data["start"], window.cleaned_data["end"])
        )
    details = ScenarioDetailsForm(request.POST if request.method == "POST" else None)
    errors: list[str] = []
    picked = {int(v) for v in request.POST.getlist("occurrence") if v.isdigit()}
    for occurrence in occurrences:
        occurrence.picked = occurrence.pk in picked
        occurrence.labels_text = request.POST.get(
            f"labels-{occurrence.pk}", show_pairs(occurrence.labels)
        )
        occurrence.annotations_text = request.POST.get(
            f"annotations-{occurrence.pk}", show_pairs(occurrence.annotations)
        )
    if request.method == "POST" and window.is_valid():
        chosen = [o for o in occurrences if o.picked]
        edits = {}
        if not chosen:
            errors.append(_("Pick at least one alert."))
        for occurrence in chosen:
            try:
                edits[occurrence.pk] = (
                    parse_pairs(occurrence.labels_text, field="labels"),
                    parse_pairs(occurrence.annotations_text, field="annotations"),
                )
            except ValidationError as error:
                errors.append(f"{occurrence.alertname}: {' '.join(error.messages)}")
        try:
            injects = parse_injects(
                request.POST.getlist("inject_offset"), request.POST.getlist("inject_text")
            )
        except ValidationError as error:
            errors.append(" ".join(error.messages))
            injects = []
        if details.is_valid() and not errors:
            data = details.cleaned_data
            try:
                scenario = record_scenario(
                    team=team,
                    title=data["title"],
                    occurrences=chosen,
                    edits=edits,
                    injects=injects,
                    by=request.user,
                    brief=data["brief"],
                    hidden_notes=data["hidden_notes"],
                    root_cause=data["root_cause"],
                    ack_target=data["ack_target"] * 60,
                )
            except StepError as error:
                errors.append(str(error))
            else:
                messages.success(request, _("Scenario saved."))
                return redirect(scenario.get_absolute_url())
    inject_rows = list(
        zip(
            request.POST.getlist("inject_offset") or ["", "", ""],
            request.POST.getlist("inject_text") or ["", "", ""],
            strict=False,
        )
    )
    return render(
        request,
        "drills/record.html",
        {
            "team": team,
            "window": window,
            "details": details,
            "occurrences": occurrences,
            "errors": errors,
            "inject_rows": inject_rows,
            "viewer_tz": tz,
        },
        status=400 if errors or (request.method == "POST" and not details.is_valid()) else 200,
    )


@login_required
def scenario(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A scenario, its steps, and the form that schedules a drill of it."""
    found = _get_scenario_for_user(request, slug, pk)
    tz = request.user.profile.tz
    form = ScheduleForm(
        request.POST if request.method == "POST" else None,
        team=found.team,
        tz=tz,
        initial={"game_master": request.user.pk},
    )
    if request.method == "POST" and form.is_valid():
        try:
            drill = running.schedule_drill(
                scenario=found,
                trainee=form.cleaned_data["trainee"],
                game_master=form.cleaned_data["game_master"],
                at=form.cleaned_data["at"],
            )
        except DrillError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Drill scheduled."))
            return redirect(drill.get_absolute_url())
    steps = list(found.steps.select_related("runbook"))
    for step in steps:
        step.offset_label = offset_label(step.offset)
    return render(
        request,
        "drills/scenario.html",
        {
            "team": found.team,
            "scenario": found,
            "steps": steps,
            "expected": list(found.expected_runbooks.all()),
            "ack_target": minutes_label(found.ack_target),
            "has_alert": any(s.kind == ScenarioStep.Kind.FIRED for s in steps),
            "form": form,
            "drills": found.drills.select_related("trainee", "game_master")[:50],
            "viewer_tz": tz,
        },
        status=400 if form.errors else 200,
    )


@require_safe
@login_required
def download(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    found = _get_scenario_for_user(request, slug, pk)
    name = slugify(found.title) or f"scenario-{found.pk}"
    response = HttpResponse(files.dump(found), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.md"'
    return response


# -- live pages: the trainee's response to a real page during a shift --


def _get_live_page_for_user(request: HttpRequest, shift: int, occurrence: int) -> live.LivePage:
    """The page when the user is the shift's trainee, its primary or a lead of its team,
    and the alert began on the shift's team during the shift; else 404."""
    user = request.user
    found = (
        ShadowShift.objects.visible_to(user)
        .select_related("team", "trainee", "primary")
        .filter(pk=shift)
        .first()
    )
    if found is None:
        raise Http404
    is_trainee = user.pk == found.trainee_id
    reviewer = not is_trainee and live.may_review(user, found)
    if not (is_trainee or reviewer):
        raise Http404
    page = AlertOccurrence.objects.select_related("runbook").filter(pk=occurrence).first()
    if page is None or not live.in_shift(found, page):
        raise Http404
    return live.LivePage(found, page, live.response_of(found, page), is_trainee, reviewer)


@require_safe
@login_required
def live_page(request: HttpRequest, shift: int, occurrence: int) -> HttpResponse:
    page = _get_live_page_for_user(request, shift, occurrence)
    return render(request, "drills/live.html", page.context(viewer_tz=request.user.profile.tz))


def _after_live_action(request: HttpRequest, page: live.LivePage, action) -> HttpResponse:
    """Run an action on a live page; answer htmx with the console, a browser with a redirect.

    A response refused because the shift is over is answered 409: htmx then
    reloads the page, which says why (a 4xx is not swapped in)."""
    error, status = "", 200
    try:
        action()
    except live.ShiftOver as e:
        error, status = str(e), 409
    except DrillError as e:
        error = str(e)
    if request.htmx and status == 200:
        page.response = live.response_of(page.shift, page.occurrence)
        context = page.context(viewer_tz=request.user.profile.tz, error=error)
        return render(request, "drills/live.html#console", context)
    if error:
        messages.error(request, error)
    if request.htmx:
        return HttpResponse(error, status=status, headers={"HX-Refresh": "true"})
    if status != 200:
        return render(
            request,
            "drills/live.html",
            page.context(viewer_tz=request.user.profile.tz),
            status=status,
        )
    return redirect(page.url())


@require_POST
@login_required
def live_acknowledge(request: HttpRequest, shift: int, occurrence: int) -> HttpResponse:
    page = _get_live_page_for_user(request, shift, occurrence)
    return _after_live_action(
        request,
        page,
        lambda: live.acknowledge(shift=page.shift, occurrence=page.occurrence, by=request.user),
    )


@require_POST
@login_required
def live_note(request: HttpRequest, shift: int, occurrence: int) -> HttpResponse:
    page = _get_live_page_for_user(request, shift, occurrence)
    return _after_live_action(
        request,
        page,
        lambda: live.add_note(
            shift=page.shift,
            occurrence=page.occurrence,
            by=request.user,
            text=request.POST.get("text", ""),
            hypothesis=request.POST.get("hypothesis") == "on",
        ),
    )


@require_POST
@login_required
def live_end(request: HttpRequest, shift: int, occurrence: int) -> HttpResponse:
    page = _get_live_page_for_user(request, shift, occurrence)
    return _after_live_action(
        request,
        page,
        lambda: live.end(
            shift=page.shift,
            occurrence=page.occurrence,
            by=request.user,
            choice=request.POST.get("choice", ""),
            text=request.POST.get("text", ""),
        ),
    )


@require_POST
@login_required
def live_review(request: HttpRequest, shift: int, occurrence: int) -> HttpResponse:
    """The primary's account and mark: from the live page, or from the shift page's
    comparison (``next`` brings the reviewer back there)."""
    page = _get_live_page_for_user(request, shift, occurrence)
    if not page.may_review:
        raise Http404
    try:
        live.review(
            shift=page.shift,
            occurrence=page.occurrence,
            by=request.user,
            mark=request.POST.get("mark", ""),
            account=request.POST.get("text", ""),
            note=request.POST.get("note", ""),
        )
    except DrillError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("Marked."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = page.url()
    return redirect(back)
