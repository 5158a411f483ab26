import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oncall.readiness import chart, dashboard, gate, practice, progress, teaching_home
from oncall.readiness.forms import (
    ActionNoteForm,
    NoteForm,
    StartOnboardingForm,
    TemplateForm,
    TemplateItemForm,
)
from oncall.readiness.models import (
    ChecklistTemplate,
    ItemProgress,
    Kind,
    Onboarding,
    TemplateItem,
)
from oncall.readiness.progress import ReadinessError
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.access import is_lead, is_member, teams_led_by
from oncall.teams.models import Membership, Team
from oncall.teams.people import display_name

ACTIVITY_SHOWN = 15


# -- access ----------------------------------------------------------------------------


def _get_onboarding_for_user(request: HttpRequest, pk: int) -> Onboarding:
    """An onboarding the user may see: their own, one of a team they lead, or one they
    mentor (read-only) while they are a member of its team (404 otherwise)."""
    onboarding = get_object_or_404(
        Onboarding.objects.select_related(
            "engineer", "team", "template", "mentor", "lead", "cleared_by"
        ),
        pk=pk,
    )
    user = request.user
    if user.pk == onboarding.engineer_id or is_lead(user, onboarding.team):
        return onboarding
    if user.pk == onboarding.mentor_id and is_member(user, onboarding.team):
        return onboarding
    raise Http404


def _get_onboarding_to_change(request: HttpRequest, pk: int) -> Onboarding:
    """An onboarding the user may act on: their own, or one of a team they lead.

    A mentor sees the checklist but does not tick, note or sign it: the
    evidence is the engineer's, and sign-offs are a lead's."""
    onboarding = _get_onboarding_for_user(request, pk)
    if onboarding.engineer_id == request.user.pk or is_lead(request.user, onboarding.team):
        return onboarding
    raise PermissionDenied


def _get_onboarding_for_lead(request: HttpRequest, pk: int) -> Onboarding:
    onboarding = _get_onboarding_for_user(request, pk)
    if not is_lead(request.user, onboarding.team):
        raise Http404
    return onboarding


def _get_item_for_user(request: HttpRequest, pk: int, item_pk: int) -> ItemProgress:
    onboarding = _get_onboarding_to_change(request, pk)
    item = get_object_or_404(
        ItemProgress.objects.select_related("runbook__current_revision"),
        pk=item_pk,
        onboarding=onboarding,
    )
    item.onboarding = onboarding
    return item


def _get_team_for_lead(request: HttpRequest, slug: str) -> Team:
    team = get_object_or_404(Team, slug=slug)
    if not is_lead(request.user, team):
        raise Http404
    return team


def _get_template_for_user(request: HttpRequest, pk: int, *, edit: bool = False):
    """A template the user may use (shared, or of a team they lead); editing a
    shared template is for staff, since every team starts from it."""
    template = get_object_or_404(ChecklistTemplate.objects.select_related("team"), pk=pk)
    if template.team_id is None:
        if edit and not request.user.is_staff:
            raise Http404
        if not request.user.is_staff and not teams_led_by(request.user).exists():
            raise Http404
        return template
    if not is_lead(request.user, template.team):
        raise Http404
    return template


def _next_url(request: HttpRequest, default: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


# -- my onboarding and an onboarding's checklist ----------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role's home: a lead's team dashboard, the trainee's checklist, the
    primary's or mentor's people, otherwise a friendly welcome."""
    led = teams_led_by(request.user).only("slug").first()
    if led is not None:
        return redirect("readiness:dashboard", led.slug)
    onboarding = (
        Onboarding.objects.filter(engineer=request.user)
        .select_related("engineer", "team", "template", "mentor", "lead", "cleared_by")
        # The onboarding still going on first; a cleared one only when it is all there is.
        .order_by(
            Case(When(state=Onboarding.State.CLEARED, then=Value(1)), default=Value(0)),
            "-started_at",
        )
        .first()
    )
    if onboarding is not None and not onboarding.is_cleared:
        return _render_onboarding(request, onboarding, is_home=True)
    teaching = teaching_home.context_for(request.user, now=timezone.now())
    teaching["viewer_tz"] = request.user.profile.tz
    if teaching["people"] or teaching["shifts"]:
        with timezone.override(request.user.profile.tz):
            return render(request, "readiness/teaching.html", teaching)
    if onboarding is not None:
        return _render_onboarding(request, onboarding, is_home=True)
    leads = (
        Membership.objects.filter(
            role=Membership.Role.LEAD,
            team__memberships__user=request.user,
        )
        .exclude(user=request.user)
        .select_related("user", "team")
        .order_by("team__name", "user__username")
    )
    return render(request, "readiness/welcome.html", {"leads": leads})


@login_required
def onboarding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    onboarding = _get_onboarding_for_user(request, pk)
    return _render_onboarding(request, onboarding)


def _checklist_context(request: HttpRequest, onboarding: Onboarding, *, is_home: bool) -> dict:
    items = list(
        onboarding.items.select_related(
            "runbook__current_revision",
            "revision_read",
            "done_by",
            "signed_off_by",
            "signoff_withdrawn_from",
        )
    )
    drills = practice.drill_record(onboarding.team_id, onboarding.engineer_id)
    # Asking the gate writes nothing: stored state is reconcile's to write.
    result = gate.evaluate(onboarding, items=items, drills_passed=drills.passed)
    sections: dict[str, list] = {}
    for item in items:
        sections.setdefault(item.shown_section, []).append(result.status(item))
    viewer_is_lead = is_lead(request.user, onboarding.team)
    waiting_for = onboarding.lead or onboarding.team.leads().first()
    activities = onboarding.activities.select_related("actor", "item").order_by("-at", "-id")[
        :ACTIVITY_SHOWN
    ]
    next_path = reverse("readiness:home") if is_home else onboarding.get_absolute_url()
    if onboarding.is_cleared:
        state = Onboarding.State.CLEARED
    else:
        state = Onboarding.State.READY if result.passed else Onboarding.State.IN_PROGRESS
    return {
        "onboarding": onboarding,
        "result": result,
        "drills": drills,
        "has_drill_item": any(item.is_drill_item for item in items),
        "state": state,
        "sections": sections,
        "next_steps": result.next_steps(3),
        "awaiting": [s for s in result.statuses.values() if s.awaiting_signoff],
        "unconfirmed": _shifts_waiting_for_confirmation(onboarding),
        "viewer_is_engineer": onboarding.engineer_id == request.user.pk,
        "viewer_is_lead": viewer_is_lead,
        # A mentor reads along (and leaves notes); the engineer and the team's leads act.
        "can_act": viewer_is_lead or onboarding.engineer_id == request.user.pk,
        "viewer_is_mentor": onboarding.mentor_id == request.user.pk,
        "can_clear": viewer_is_lead
        and result.passed
        and not onboarding.is_cleared
        and onboarding.engineer_id != request.user.pk,
        "waiting_for": waiting_for,
        "activities": activities,
        "is_home": is_home,
        "next_path": next_path,
        "today": timezone.localdate(),
        "Kind": Kind,
    }


def _shifts_waiting_for_confirmation(onboarding: Onboarding) -> dict[str, int]:
    """Shifts the trainee attended that the primary has not confirmed yet, per kind."""
    rows = (
        ShadowShift.objects.filter(
            team_id=onboarding.team_id,
            trainee_id=onboarding.engineer_id,
            state=ShadowShift.State.SCHEDULED,
            attended_at__isnull=False,
        )
        .values_list("kind")
        .annotate(n=Count("id"))
    )
    by_kind = dict(rows)
    return {
        "shadow_shift": by_kind.get(ShadowShift.Kind.SHADOW, 0),
        "reverse_shadow_shift": by_kind.get(ShadowShift.Kind.REVERSE_SHADOW, 0),
    }


def _render_onboarding(
    request: HttpRequest, onboarding: Onboarding, *, is_home: bool = False
) -> HttpResponse:
    context = _checklist_context(request, onboarding, is_home=is_home)
    # Times on the checklist read in the viewer's own time zone.
    with timezone.override(request.user.profile.tz):
        return render(request, "readiness/onboarding.html", context)


def _after_change(
    request: HttpRequest, onboarding: Onboarding, *, error: str = "", announce: str = ""
) -> HttpResponse:
    """htmx gets the new checklist (with the error, if any, inside it, and what
    changed in words for a screen reader); a plain form post goes back where it
    came from, the error as a message."""
    default = onboarding.get_absolute_url()
    next_path = _next_url(request, default)
    if request.htmx:
        is_home = next_path == reverse("readiness:home")
        context = _checklist_context(request, onboarding, is_home=is_home)
        context["error"] = error
        context["announce"] = "" if error else announce
        with timezone.override(request.user.profile.tz):
            return render(request, "readiness/onboarding.html#checklist", context)
    if error:
        messages.error(request, error)
    return redirect(next_path)


@login_required
@require_POST
def item_update(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Tick, untick or write a note on one item (the engineer, or a lead of the team)."""
    item = _get_item_for_user(request, pk, item_pk)
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"].strip() if form.is_valid() else ""
    action = request.POST.get("action", "")
    error = announce = ""
    title = {"title": item.shown_title}
    try:
        if action == "tick":
            progress.tick_item(item=item, by=request.user, note=note)
            announce = _("“%(title)s” marked done.") % title
        elif action == "untick":
            progress.untick_item(item=item, by=request.user, note=note)
            announce = _("“%(title)s” marked not done.") % title
        elif action == "note":
            progress.note_item(item=item, by=request.user, note=note)
            announce = _("Note saved on “%(title)s”.") % title
        else:
            error = _("Nothing to do: choose done, not done or save note.")
    except ReadinessError as e:
        error = str(e)
    return _after_change(request, item.onboarding, error=error, announce=announce)


@login_required
@require_POST
def item_sign_off(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = _get_item_for_user(request, pk, item_pk)
    if not is_lead(request.user, item.onboarding.team):
        raise Http404
    try:
        progress.sign_off_item(item=item, by=request.user)
    except ReadinessError as e:
        return _after_change(request, item.onboarding, error=str(e))
    signed = _("Signed off “%(title)s”.") % {"title": item.shown_title}
    if not request.htmx:
        messages.success(request, signed)
    return _after_change(request, item.onboarding, announce=signed)


@login_required
@require_POST
def clear(request: HttpRequest, pk: int) -> HttpResponse:
    onboarding = _get_onboarding_for_lead(request, pk)
    form = ActionNoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        progress.clear_onboarding(onboarding=onboarding, by=request.user, note=note)
    except ReadinessError as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("%(name)s is cleared for on-call.") % {"name": display_name(onboarding.engineer)},
        )
    return redirect(onboarding.get_absolute_url())


@login_required
@require_POST
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    onboarding = _get_onboarding_for_lead(request, pk)
    form = ActionNoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        progress.reopen_onboarding(onboarding=onboarding, by=request.user, note=note)
    except ReadinessError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("The onboarding is open again."))
    return redirect(onboarding.get_absolute_url())


@login_required
@require_POST
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    """A mentor's or a lead's note on the onboarding: an activity, not evidence on an item."""
    onboarding = _get_onboarding_for_user(request, pk)
    form = ActionNoteForm(request.POST)
    note = form.cleaned_data["note"].strip() if form.is_valid() else ""
    if not note:
        messages.error(request, _("Write the note first."))
    else:
        progress.comment(onboarding=onboarding, by=request.user, note=note)
        messages.success(request, _("Note added to the activity."))
    return redirect(f"{onboarding.get_absolute_url()}#activity-title")


@login_required
@require_POST
def mark_read(request: HttpRequest, runbook_pk: int) -> HttpResponse:
    """Mark a runbook read at its current revision, from the runbook's own page.

    Only the person onboarding, with the proof the page gave them when they
    opened it (``progress.reading_proof``).
    """
    runbook = get_object_or_404(Runbook.objects.select_related("current_revision"), pk=runbook_pk)
    has_item = ItemProgress.objects.filter(
        onboarding__engineer=request.user, kind=Kind.READ_RUNBOOK, runbook=runbook
    ).exists()
    if not has_item:
        raise Http404
    try:
        progress.mark_runbook_read(
            engineer=request.user, runbook=runbook, proof=request.POST.get("opened", "")
        )
    except ReadinessError as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request,
            _("Marked “%(title)s” as read at revision %(number)d.")
            % {"title": runbook.title, "number": runbook.current_revision.number},
        )
    return redirect(_next_url(request, runbook.get_absolute_url()))


# -- the leads' dashboard ---------------------------------------------------------------


@login_required
def team_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_lead(request, slug)
    sort = request.GET.get("sort", "state")
    if sort.removeprefix("-") not in dashboard.SORTS:
        sort = "state"
    rows = dashboard.team_rows(team, sort=sort)
    today = timezone.localdate(timezone=team.tz)
    weeks = chart.weekly_states([row.onboarding for row in rows], today=today, tz=team.tz)
    own = [o for o in request.user.onboardings.all() if o.state != Onboarding.State.CLEARED]
    counts = dict.fromkeys(Onboarding.State.values, 0)
    for row in rows:
        counts[row.state] += 1
    context = {
        "team": team,
        "rows": rows,
        "sort": sort,
        "chart_svg": chart.render_svg(weeks),
        "counts": counts,
        "stalled": sum(row.stalled for row in rows),
        "overdue": sum(row.overdue for row in rows),
        "own_onboarding": own[0] if own else None,
        "table_rows": dashboard.table_rows(rows),
        "to_clear": [row for row in rows if row.state == Onboarding.State.READY][:5],
        "to_nudge": [row for row in rows if row.stalled or row.overdue][:5],
        "unanswered": dashboard.unanswered_questions(team),
        "columns": [
            ("name", _("Engineer")),
            ("progress", _("Progress")),
            ("left", _("Required left")),
            ("activity", _("Days idle")),
            ("target", _("Target date")),
            ("state", _("State")),
        ],
    }
    return render(request, "readiness/dashboard.html", context)


@login_required
def team_dashboard_csv(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_lead(request, slug)
    rows = dashboard.team_rows(team, sort="name")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate(timezone=team.tz).isoformat()
    response["Content-Disposition"] = f'attachment; filename="readiness-{team.slug}-{stamp}.csv"'
    # Names and progress of people: not for shared caches or the browser's disk.
    response["Cache-Control"] = "no-store"
    # A byte-order mark: Excel reads the file as UTF-8 only with one, and names
    # in Japanese (or with accents) otherwise open as mojibake.
    response.write("\ufeff")
    dashboard.write_csv(rows, response, tz=team.tz)
    return response


@login_required
def start(request: HttpRequest, slug: str) -> HttpResponse:
    team = _get_team_for_lead(request, slug)
    if request.method == "POST":
        form = StartOnboardingForm(request.POST, team=team)
        if form.is_valid():
            onboarding = progress.start_onboarding(
                engineer=form.cleaned_data["engineer"],
                team=team,
                template=form.cleaned_data["template"],
                mentor=form.cleaned_data["mentor"],
                target_date=form.cleaned_data["target_date"],
                started_by=request.user,
            )
            messages.success(
                request,
                _("Onboarding started for %(name)s.") % {"name": display_name(onboarding.engineer)},
            )
            return redirect(onboarding.get_absolute_url())
    else:
        form = StartOnboardingForm(team=team, initial={"engineer": request.GET.get("engineer")})
    return render(request, "readiness/start.html", {"team": team, "form": form})


# -- checklist templates ------------------------------------------------------------------


def _require_some_lead(request: HttpRequest) -> None:
    if not request.user.is_staff and not teams_led_by(request.user).exists():
        raise Http404


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    _require_some_lead(request)
    led = teams_led_by(request.user)
    templates = (
        ChecklistTemplate.objects.filter(Q(team__isnull=True) | Q(team__in=led))
        .select_related("team")
        .prefetch_related("items")
        .order_by("team__name", "name")
    )
    return render(request, "readiness/template_list.html", {"templates": templates})


@login_required
def template_create(request: HttpRequest) -> HttpResponse:
    _require_some_lead(request)
    form_kwargs = {"teams": teams_led_by(request.user), "allow_shared": request.user.is_staff}
    if request.method == "POST":
        form = TemplateForm(request.POST, **form_kwargs)
        if form.is_valid():
            template = form.save(commit=False)
            template.created_by = request.user
            template.save()
            messages.success(request, _("Template created. Now add its items."))
            return redirect(template.get_absolute_url())
    else:
        form = TemplateForm(**form_kwargs)
    return render(request, "readiness/template_form.html", {"form": form, "template": None})


@login_required
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get_template_for_user(request, pk)
    can_edit = template.team_id is not None or request.user.is_staff
    form_kwargs = {"teams": teams_led_by(request.user), "allow_shared": request.user.is_staff}
    if request.method == "POST":
        if not can_edit:
            raise Http404
        form = TemplateForm(request.POST, instance=template, **form_kwargs)
        if form.is_valid():
            template = form.save(commit=False)
            template.updated_at = timezone.now()
            template.save()
            messages.success(request, _("Template saved."))
            return redirect(template.get_absolute_url())
    else:
        form = TemplateForm(instance=template, **form_kwargs)
    context = {
        "form": form,
        "in_use": template.onboardings.count(),
        "led_teams": teams_led_by(request.user).order_by("name"),
        **_template_items_context(request, template),
    }
    return render(request, "readiness/template_form.html", context)


def _template_items_context(request: HttpRequest, template: ChecklistTemplate) -> dict:
    items = list(template.items.select_related("runbook"))
    sections: dict[str, list[TemplateItem]] = {}
    for item in items:
        sections.setdefault(item.section, []).append(item)
    return {
        "template": template,
        "sections": sections,
        "first_pk": items[0].pk if items else None,
        "last_pk": items[-1].pk if items else None,
        "can_edit": template.team_id is not None or request.user.is_staff,
    }


@login_required
@require_POST
def template_copy(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get_template_for_user(request, pk)
    team_id = str(request.POST.get("team") or template.team_id or "")
    team = None
    # ASCII digits only ("²" passes str.isdigit), and within a database id.
    if re.fullmatch(r"[0-9]{1,18}", team_id):
        team = teams_led_by(request.user).filter(pk=int(team_id)).first()
    if team is None:
        team = teams_led_by(request.user).order_by("name").first()
    if team is None:
        raise Http404
    copy = progress.copy_template(template=template, team=team, by=request.user)
    messages.success(
        request,
        _("Copied for %(team)s: edit it freely, onboardings already started keep their items.")
        % {"team": team.name},
    )
    return redirect(copy.get_absolute_url())


@login_required
def template_item_edit(request: HttpRequest, pk: int, item_pk: int | None = None) -> HttpResponse:
    template = _get_template_for_user(request, pk, edit=True)
    item = get_object_or_404(TemplateItem, pk=item_pk, template=template) if item_pk else None
    if request.method == "POST":
        form = TemplateItemForm(request.POST, instance=item, template=template)
        if form.is_valid():
            item = form.save(commit=False)
            item.template = template
            item.section = form.cleaned_data["section"]
            item.description = form.cleaned_data["description"]
            item.description_html = form.description_html  # rendered once, in the form
            item.description_html_ja = form.description_html_ja
            if item.pk is None:  # a new item goes last; move it from the list
                last = template.items.order_by("-order").values_list("order", flat=True).first()
                item.order = (last or 0) + 10
            item.save()
            template.touch()
            messages.success(request, _("Item “%(title)s” saved.") % {"title": item.shown_title})
            return redirect(template.get_absolute_url())
    else:
        form = TemplateItemForm(instance=item, template=template)
    return render(
        request,
        "readiness/template_item_form.html",
        {"form": form, "template": template, "item": item, "Kind": Kind},
        status=422 if form.errors else 200,
    )


@login_required
@require_POST
def template_item_move(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Move an item up or down the checklist (htmx swaps the list; a plain form reloads)."""
    template = _get_template_for_user(request, pk, edit=True)
    item = get_object_or_404(TemplateItem, pk=item_pk, template=template)
    up = request.POST.get("direction") == "up"
    progress.move_template_item(item=item, up=up)
    if request.htmx:
        context = _template_items_context(request, template)
        moved = _("“%(title)s” moved up.") if up else _("“%(title)s” moved down.")
        context["announce"] = moved % {"title": item.title}
        return render(request, "readiness/template_form.html#items", context)
    return redirect(f"{template.get_absolute_url()}#template-item-{item.pk}")


@login_required
@require_POST
def template_item_delete(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    template = _get_template_for_user(request, pk, edit=True)
    item = get_object_or_404(TemplateItem, pk=item_pk, template=template)
    item.delete()
    template.touch()
    messages.success(
        request,
        _("Item “%(title)s” removed; onboardings already started keep it.")
        % {"title": item.shown_title},
    )
    return redirect(template.get_absolute_url())
