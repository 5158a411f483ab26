from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from oncall.runbooks.models import Runbook
from oncall.shifts import calendar, feeds, flags, panels
from oncall.shifts.forms import AnswerForm, DebriefForm, EditForm, ScheduleForm, Scope
from oncall.shifts.models import FlagsDismissed, ShadowShift
from oncall.shifts.schedule import (
    ClashError,
    ShiftError,
    apply_moves,
    cancel_shifts,
    confirm_shift,
    may_confirm,
    record_attendance,
    schedule_shifts,
    this_and_following,
)
from oncall.teams.access import is_lead, teams_led_by, teams_of
from oncall.teams.models import Team
from oncall.teams.people import display_name
from oncall.teams.subscribe import subscription


def _get_shift_for_user(request: HttpRequest, pk: int) -> ShadowShift:
    """The shift, if the user is a member of its team, its trainee, or staff (404 otherwise)."""
    shifts = ShadowShift.objects.visible_to(request.user)
    return get_object_or_404(
        shifts.select_related("team", "trainee", "primary", "confirmed_by"), pk=pk
    )


def _may_take_part(user, shift: ShadowShift, *, lead: bool) -> bool:
    """The trainee, the primary and leads of the team take part in a shift."""
    return user.pk in (shift.trainee_id, shift.primary_id) or lead


def _calendar_url(team: Team, view: str, day) -> str:
    query = urlencode({"team": team.slug, "view": view, "date": day.isoformat()})
    return f"{reverse('shifts:index')}?{query}"


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """My shifts, then the team calendar (week or month) in my time zone."""
    user = request.user
    tz = user.profile.tz
    now = timezone.now()
    today = now.astimezone(tz).date()

    teams = list(teams_of(user).order_by("name"))
    led_ids = set(teams_led_by(user).values_list("pk", flat=True))
    team = None
    if teams:
        wanted = request.GET.get("team")
        team = next((t for t in teams if t.slug == wanted), teams[0])
    view = request.GET.get("view") if request.GET.get("view") in calendar.VIEWS else calendar.WEEK
    anchor = calendar.parse_day(request.GET.get("date"), today)

    cal = None
    if team is not None:
        days, first, end = calendar.build_days(
            shifts=calendar.shifts_between(team.pk, *calendar.grid_range(view, anchor), tz),
            view=view,
            anchor=anchor,
            tz=tz,
            today=today,
            now=now,
        )
        cal = {
            "team": team,
            "view": view,
            "anchor": anchor,
            "days": days,
            "weeks": calendar.weeks_of(days),
            "first": first,
            "last": end - timedelta(days=1),
            "hours": range(0, 24, 3),
            "prev_url": _calendar_url(team, view, calendar.step(view, anchor, -1)),
            "next_url": _calendar_url(team, view, calendar.step(view, anchor, +1)),
            "today_url": _calendar_url(team, view, today),
            "week_url": _calendar_url(team, calendar.WEEK, anchor),
            "month_url": _calendar_url(team, calendar.MONTH, anchor),
            "can_schedule": team.pk in led_ids,
        }
    context = {"cal": cal, "teams": teams, "viewer_tz": tz, "now": now}
    if request.htmx and request.htmx.target == "calendar":
        return render(request, "shifts/index.html#calendar", context)

    mine = (
        ShadowShift.objects.visible_to(user)
        .involving(user)
        .select_related("team", "trainee", "primary")
    )
    # A shift stays listed from its start to its end, confirmed or not: the
    # primary may confirm it while it is still on.
    upcoming = list(mine.current(now).order_by("starts_at")[:20])
    recent = list(
        mine.filter(ends_at__lte=now)
        .exclude(state=ShadowShift.State.CANCELLED)
        .order_by("-starts_at")[:10]
    )
    token = user.profile.calendar_token
    led_teams = [t for t in teams if t.pk in led_ids]
    # A lead sees the team's shifts on now, and when on no shift of their own
    # the team's next ones instead of an empty card.
    team_on_now, team_upcoming = [], []
    if led_teams:
        team_current = list(
            ShadowShift.objects.filter(team__in=led_teams)
            .current(now)
            .select_related("team", "trainee", "primary")
            .order_by("starts_at")[:30]
        )
        team_on_now = [s for s in team_current if s.is_on_now(now)]
        if not upcoming:
            team_upcoming = [s for s in team_current if not s.is_on_now(now)][:20]
    context.update(
        {
            "upcoming": upcoming,
            "next_shift": upcoming[0] if upcoming else None,
            "team_on_now": team_on_now,
            "team_upcoming": team_upcoming,
            "recent": recent,
            # Trainees write debriefs: the banner is for the shifts they shadowed.
            "debriefs_due": [
                s for s in recent if s.trainee_id == user.pk and s.is_debrief_due(now)
            ],
            "led_teams": led_teams,
            "feed": subscription(request.build_absolute_uri(reverse("shifts:feed", args=[token]))),
            "team_feeds": [
                (
                    t,
                    subscription(
                        request.build_absolute_uri(
                            reverse("shifts:feed_team", args=[token, t.slug])
                        )
                    ),
                )
                for t in led_teams
            ],
        }
    )
    return render(request, "shifts/index.html", context)


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    shift = _get_shift_for_user(request, pk)
    lead = is_lead(request.user, shift.team)
    return _render_detail(request, shift, lead=lead)


def _render_detail(
    request, shift, *, lead: bool, form=None, answer_form=None, status: int = 200
) -> HttpResponse:
    """The shift page. The debrief is a conversation: the trainee's part is a form
    for the trainee only, the primary's part a form for the primary only; everyone
    else who may see the shift reads both."""
    user = request.user
    if form is None and user.pk == shift.trainee_id and shift.can_debrief():
        form = DebriefForm(shift=shift)
        # "Pages seen" starts from the alerts of the shift (the trainee edits it).
        if not shift.has_debrief and not shift.debrief_pages_seen:
            form.initial["pages_seen"] = panels.pages_seen(shift)
    if answer_form is None and user.pk == shift.primary_id and shift.has_debrief:
        answer_form = AnswerForm(shift=shift)
    series_count = ShadowShift.objects.filter(series=shift.series).count() if shift.series else 0
    context = {
        "shift": shift,
        "viewer_tz": user.profile.tz,
        "is_lead": lead,
        "may_take_part": _may_take_part(user, shift, lead=lead),
        "may_confirm": may_confirm(shift, user, lead=lead),
        "form": form,
        "answer_form": answer_form,
        "series_count": series_count,
        "debrief_runbooks": list(shift.debrief_runbooks.order_by("title")),
        "panels": panels.render_panels(request, shift),
        "now": timezone.now(),
    }
    return render(request, "shifts/detail.html", context, status=status)


@login_required
@require_POST
def debrief(request: HttpRequest, pk: int) -> HttpResponse:
    """The trainee's part of the debrief: only the trainee writes it."""
    shift = _get_shift_for_user(request, pk)
    lead = is_lead(request.user, shift.team)
    if request.user.pk != shift.trainee_id:
        raise PermissionDenied
    if not shift.can_debrief():
        messages.error(request, _("A debrief can be written once the shift has started."))
        return redirect(shift)
    form = DebriefForm(request.POST, shift=shift)
    if not form.is_valid():
        return _render_detail(request, shift, lead=lead, form=form, status=422)
    shift.write_debrief(
        pages_seen=form.cleaned_data["pages_seen"],
        made_sense=form.cleaned_data["made_sense"],
        open_questions=form.cleaned_data["open_questions"],
        runbook_gaps=form.cleaned_data["runbook_gaps"],
        runbooks=form.cleaned_data["runbooks"],
    )
    messages.success(request, _("Debrief saved. Thank you — this is how runbooks get better."))
    return redirect(shift)


@login_required
@require_POST
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    """The primary's part: answers to the open questions and a verdict. Only the primary."""
    shift = _get_shift_for_user(request, pk)
    lead = is_lead(request.user, shift.team)
    if request.user.pk != shift.primary_id:
        raise PermissionDenied
    if not shift.has_debrief:
        messages.error(request, _("The trainee writes their part of the debrief first."))
        return redirect(shift)
    form = AnswerForm(request.POST, shift=shift)
    if not form.is_valid():
        return _render_detail(request, shift, lead=lead, answer_form=form, status=422)
    shift.write_answer(
        by=request.user,
        answers=form.answers(),
        runbooks_to_fix=form.cleaned_data["runbooks_to_fix"].strip(),
        ready_for_reverse=form.cleaned_data["ready_for_reverse"],
        ready_reason=form.cleaned_data["ready_reason"].strip(),
    )
    messages.success(
        request,
        _("Answer saved. %(name)s is told.") % {"name": display_name(shift.trainee)},
    )
    return redirect(f"{shift.get_absolute_url()}#debrief")


@login_required
@require_POST
def mark_done(request: HttpRequest, pk: int) -> HttpResponse:
    """The primary, the mentor or a lead confirms the shift happened; the trainee records attending."""
    shift = _get_shift_for_user(request, pk)
    lead = is_lead(request.user, shift.team)
    vouches = may_confirm(shift, request.user, lead=lead)
    if not (vouches or _may_take_part(request.user, shift, lead=lead)):
        raise PermissionDenied
    try:
        if vouches:
            confirm_shift(shift=shift, by=request.user, lead=lead)
            messages.success(request, _("Confirmed: the shift counts toward readiness."))
        else:
            record_attendance(shift=shift, by=request.user)
            messages.success(
                request,
                _("Recorded that you attended. It counts once %(name)s confirms it.")
                % {"name": display_name(shift.primary)},
            )
    except ShiftError as e:
        messages.error(request, str(e))
    return redirect(shift)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    shift = _get_shift_for_user(request, pk)
    if not is_lead(request.user, shift.team):
        raise PermissionDenied
    following = request.POST.get("scope") == Scope.FOLLOWING
    count = cancel_shifts(
        shifts=this_and_following(shift) if following else [shift], by=request.user
    )
    messages.success(
        request,
        ngettext("Cancelled %(count)d shift.", "Cancelled %(count)d shifts.", count)
        % {"count": count},
    )
    return redirect(shift)


@login_required
@require_POST
def dismiss_flags(request: HttpRequest, runbook_pk: int) -> HttpResponse:
    """The runbook's owner (or a lead) says the flags from debriefs are dealt with."""
    runbook = get_object_or_404(Runbook.objects.select_related("team"), pk=runbook_pk)
    if not flags.may_handle(request.user, runbook):
        raise Http404
    note = request.POST.get("note", "").strip()[:2000]
    if not note:
        messages.error(
            request, _("Say what you did about the flags, for the people who raised them.")
        )
    else:
        FlagsDismissed.objects.create(runbook=runbook, by=request.user, note=note)
        messages.success(request, _("Flags dismissed."))
    return redirect(runbook.get_absolute_url())


def _team_led_by(request: HttpRequest, slug: str | None) -> tuple[Team, list[Team]]:
    """A team the user leads (404 otherwise), chosen by slug or the first one."""
    led = list(teams_led_by(request.user).order_by("name"))
    if not led:
        raise Http404("You lead no team.")
    if slug is None:
        return led[0], led
    for team in led:
        if team.slug == slug:
            return team, led
    raise Http404("Not a team you lead.")


@login_required
def new(request: HttpRequest) -> HttpResponse:
    """Schedule a shift or a recurring series (leads of the team, and staff)."""
    team, led = _team_led_by(request, request.POST.get("team") or request.GET.get("team"))
    if request.method == "POST":
        form = ScheduleForm(request.POST, team=team)
        if form.is_valid():
            data = form.cleaned_data
            try:
                shifts = schedule_shifts(
                    team=team,
                    trainee=data["trainee"],
                    primary=data["primary"],
                    kind=data["kind"],
                    occurrences=form.occurrences,
                    time_zone=data["time_zone"],
                    created_by=request.user,
                )
            except ClashError as e:
                form.add_clash(e.clash)
                context = {"form": form, "team": team, "led_teams": led, "shift": None}
                return render(request, "shifts/form.html", context, status=422)
            messages.success(
                request,
                ngettext(
                    "Scheduled %(count)d shift for %(trainee)s.",
                    "Scheduled %(count)d shifts for %(trainee)s.",
                    len(shifts),
                )
                % {"count": len(shifts), "trainee": display_name(data["trainee"])},
            )
            first_day = shifts[0].starts_at.astimezone(request.user.profile.tz).date()
            view = calendar.MONTH if len(shifts) > 5 else calendar.WEEK
            return redirect(_calendar_url(team, view, first_day))
    else:
        initial = {"starts_on": calendar.parse_day(request.GET.get("date"), None)}
        form = ScheduleForm(team=team, initial={k: v for k, v in initial.items() if v})
    context = {"form": form, "team": team, "led_teams": led, "shift": None}
    return render(request, "shifts/form.html", context, status=422 if form.errors else 200)


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    shift = _get_shift_for_user(request, pk)
    if not is_lead(request.user, shift.team):
        raise PermissionDenied
    if not shift.is_editable:
        messages.error(request, _("Only a scheduled shift can be changed."))
        return redirect(shift)
    if request.method == "POST":
        form = EditForm(request.POST, shift=shift)
        if form.is_valid():
            data = form.cleaned_data
            try:
                apply_moves(
                    plan=form.moves,
                    trainee=data["trainee"],
                    primary=data["primary"],
                    kind=data["kind"],
                    time_zone=data["time_zone"],
                    by=request.user,
                )
            except ClashError as e:
                form.add_clash(e.clash)
                context = {"form": form, "team": shift.team, "led_teams": [], "shift": shift}
                return render(request, "shifts/form.html", context, status=422)
            messages.success(
                request,
                ngettext("Updated %(count)d shift.", "Updated %(count)d shifts.", len(form.moves))
                % {"count": len(form.moves)},
            )
            return redirect(shift)
    else:
        form = EditForm(shift=shift)
    context = {"form": form, "team": shift.team, "led_teams": [], "shift": shift}
    return render(request, "shifts/form.html", context, status=422 if form.errors else 200)


def _feed_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@login_not_required
@require_safe
@never_cache
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's shifts as iCalendar; the token in the URL is the only key."""
    profile = feeds.profile_for_token(token)
    if profile is None:
        raise Http404
    # In the owner's language; with none set, in what the calendar app asks for.
    with translation.override(profile.language or translation.get_language()):
        name = _("Shadow shifts of %(name)s") % {"name": display_name(profile.user)}
        body = feeds.calendar_for(
            feeds.shifts_for_person(profile.user), name=name, person=profile.user
        )
    return _feed_response(body, "shifts.ics")


@login_not_required
@require_safe
@never_cache
def feed_team(request: HttpRequest, token: str, slug: str) -> HttpResponse:
    """A team's shifts as iCalendar, for a lead of that team (by their own token)."""
    profile = feeds.profile_for_token(token)
    if profile is None:
        raise Http404
    team = teams_led_by(profile.user).filter(slug=slug).first()
    if team is None:
        raise Http404
    with translation.override(profile.language or translation.get_language()):
        name = _("Shadow shifts of %(team)s") % {"team": team.name}
        body = feeds.calendar_for(feeds.shifts_for_team(team), name=name)
    return _feed_response(body, f"{team.slug}-shifts.ics")
