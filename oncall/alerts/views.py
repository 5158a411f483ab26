from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oncall.alerts import receiver
from oncall.alerts.coverage import team_coverage
from oncall.alerts.forms import AlertmanagerUrlForm, AlertSourceForm, OtherTeamsForm
from oncall.alerts.models import AlertSource
from oncall.alerts.resolve import State
from oncall.alerts.sources import create_source, receiver_url, webhook_snippet
from oncall.alerts.timeline import timeline_context
from oncall.shifts.models import ShadowShift
from oncall.teams.access import teams_led_by, teams_of
from oncall.teams.models import Team

logger = logging.getLogger(__name__)

COVERAGE_WINDOWS = (30, 90)


def _problem(status: int, reason: str) -> JsonResponse:
    response = JsonResponse({"status": "error", "error": reason}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="oncall"'
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# A machine endpoint: Alertmanager authenticates with the source's bearer
# token on every request and has no session or cookie, so there is nothing
# for a cross-site request to borrow. CSRF protection guards cookie-based
# sessions; here csrf_exempt is the correct mechanism (pages people use keep
# their CSRF tokens, htmx included).
@csrf_exempt
@login_not_required
@require_POST
@never_cache
def alertmanager(request: HttpRequest) -> JsonResponse:
    """Alertmanager's webhook (payload version 4): store the alerts, answer at once.

    401 for a missing, wrong or revoked token; 413 over 1 MiB; 400 with a
    one-line reason for a body that is not a version 4 payload. Alerts that
    cannot be read are listed in the 200 answer, the rest are stored.
    """
    token = _bearer(request)
    source = AlertSource.for_token(token) if token else None
    if source is None:
        return _problem(401, "a valid alert source token is needed: Authorization: Bearer <token>")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _problem(400, "Content-Length is not a number")
    if length > receiver.MAX_BODY:
        return _problem(413, f"the payload is over {receiver.MAX_BODY} bytes")
    body = request.read(receiver.MAX_BODY + 1)
    if len(body) > receiver.MAX_BODY:
        return _problem(413, f"the payload is over {receiver.MAX_BODY} bytes")
    try:
        alerts, truncated = receiver.parse_payload(body)
    except receiver.PayloadError as e:
        return _problem(400, str(e))
    result = receiver.receive(source=source, alerts=alerts)
    if truncated:
        result.notes.insert(
            0,
            f"Alertmanager left out {truncated} alerts of this group (its max_alerts); "
            "they are not stored",
        )
    if result.rejected or result.notes:
        logger.warning(
            "alert source %s: %d alerts rejected, %d notes (first: %s)",
            source.pk,
            len(result.rejected),
            len(result.notes),
            (result.rejected or result.notes)[0],
        )
    return JsonResponse(result.as_json())


def _team_for_member(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(teams_of(request.user), slug=slug)


def _team_led(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(teams_led_by(request.user), slug=slug)


@login_required
def coverage(request: HttpRequest, slug: str) -> HttpResponse:
    """Alert names that fired for the team, the ones with no runbook first."""
    team = _team_for_member(request, slug)
    try:
        days = int(request.GET.get("days", COVERAGE_WINDOWS[0]))
    except ValueError:
        days = COVERAGE_WINDOWS[0]
    if days not in COVERAGE_WINDOWS:
        days = COVERAGE_WINDOWS[0]
    now = timezone.now()
    rows = team_coverage(team=team, since=now - timedelta(days=days), now=now)
    counts = {
        state: sum(1 for r in rows if r.state == state)
        for state in (State.MISSING, State.AMBIGUOUS, State.COVERED)
    }
    context = {
        "team": team,
        "days": days,
        "windows": COVERAGE_WINDOWS,
        "rows": rows,
        "missing": counts.get(State.MISSING, 0),
        "ambiguous": counts.get(State.AMBIGUOUS, 0),
        "covered": counts.get(State.COVERED, 0),
        "is_lead": teams_led_by(request.user).filter(pk=team.pk).exists(),
        "viewer_tz": request.user.profile.tz,
    }
    return render(request, "alerts/coverage.html", context)


@login_required
@never_cache
def sources(request: HttpRequest, slug: str) -> HttpResponse:
    """A lead's alert sources: create one (token shown once), see and revoke the others,
    choose which other teams each may file for, and the Alertmanager drills post to
    (a POST with ``alertmanager=<source id>``)."""
    team = _team_led(request, slug)
    created = None
    if request.method == "POST" and "alertmanager" in request.POST:
        return _set_alertmanager(request, team)
    if request.method == "POST":
        form = AlertSourceForm(request.POST, team=team)
        if form.is_valid():
            source, token = create_source(
                team=team, name=form.cleaned_data["name"], created_by=request.user
            )
            created = {
                "source": source,
                "token": token,
                "snippet": webhook_snippet(source=source, token=token),
            }
            form = AlertSourceForm(team=team)
    else:
        form = AlertSourceForm(team=team)
    status = 422 if form.errors else 200
    # never_cache: the answer to a POST holds a token.
    return _sources_page(request, team, form=form, created=created, status=status)


def _set_alertmanager(request: HttpRequest, team: Team) -> HttpResponse:
    """Set or clear the Alertmanager URL of one of the team's active sources."""
    try:
        pk = int(request.POST["alertmanager"])
    except ValueError:
        raise Http404 from None
    source = get_object_or_404(AlertSource.objects.active(), team=team, pk=pk)
    form = AlertmanagerUrlForm(request.POST, source=source)
    if not form.is_valid():
        return _sources_page(request, team, bound_alertmanager=form, status=422)
    form.save()
    if source.alertmanager_url:
        message = _(
            "Drills of %(team)s post their alerts to %(url)s. Put the drill route first in "
            "its alertmanager.yml, so they never page the real rotation."
        ) % {"team": team.name, "url": source.alertmanager_url}
    else:
        message = _("Drills of %(team)s feed their pages directly, not through an Alertmanager.")
        message %= {"team": team.name}
    messages.success(request, message)
    return redirect("alerts:sources", team.slug)


def _sources_page(
    request: HttpRequest,
    team: Team,
    *,
    form: AlertSourceForm | None = None,
    created: dict | None = None,
    bound: OtherTeamsForm | None = None,
    bound_alertmanager: AlertmanagerUrlForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The sources page; ``bound`` replaces the other-teams form of its source (with
    errors), ``bound_alertmanager`` its Alertmanager form."""
    sources = list(
        AlertSource.objects.filter(team=team)
        .select_related("created_by", "revoked_by")
        .prefetch_related("other_teams")
        .order_by(F("revoked_at").asc(nulls_first=True), "name")
    )
    led = set(teams_led_by(request.user).values_list("pk", flat=True))
    allowed = {t.pk for source in sources for t in source.other_teams.all()}
    offered = list(Team.objects.filter(pk__in=(led | allowed) - {team.pk}).order_by("name"))
    rows = []
    for source in sources:
        teams_form = alertmanager_form = None
        if not source.is_revoked:
            if bound is not None and bound.source.pk == source.pk:
                teams_form = bound
            else:
                teams_form = OtherTeamsForm(source=source, teams=offered, led=led)
            if bound_alertmanager is not None and bound_alertmanager.source.pk == source.pk:
                alertmanager_form = bound_alertmanager
            else:
                alertmanager_form = AlertmanagerUrlForm(source=source)
        others = ", ".join(sorted(t.name for t in source.other_teams.all()))
        rows.append(
            {
                "source": source,
                "teams_form": teams_form,
                "alertmanager_form": alertmanager_form,
                "others": others,
            }
        )
    context = {
        "team": team,
        "form": form or AlertSourceForm(team=team),
        "created": created,
        "receiver_url": receiver_url(),
        "rows": rows,
        "guests": list(
            AlertSource.objects.active()
            .filter(other_teams=team)
            .select_related("team")
            .order_by("team__name", "name")
        ),
    }
    return render(request, "alerts/sources.html", context, status=status)


@login_required
@require_POST
def revoke_source(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team_led(request, slug)
    source = get_object_or_404(AlertSource, team=team, pk=pk)
    source.revoke(by=request.user)
    messages.success(
        request,
        _("Revoked %(name)s: Alertmanager's posts with its token are refused from now on.")
        % {"name": source.name},
    )
    return redirect("alerts:sources", team.slug)


@login_required
@require_POST
@never_cache
def new_token(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Give a source a new token, shown once; the old one is refused from now on.

    Rotating in place keeps the source, and with it its occurrences: an
    alert still firing is the same occurrence under the new token (a second
    source would file it again as a new one, and page the trainee again).
    """
    team = _team_led(request, slug)
    source = get_object_or_404(AlertSource.objects.active(), team=team, pk=pk)
    token = source.set_new_token()
    source.save(update_fields=["key", "secret_hash"])
    created = {
        "source": source,
        "token": token,
        "snippet": webhook_snippet(source=source, token=token),
        "rotated": True,
    }
    # never_cache: the answer holds a token.
    return _sources_page(request, team, created=created)


@login_required
@require_POST
@never_cache
def source_teams(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Set the other teams a source of the team may file for (each added one led by the user)."""
    team = _team_led(request, slug)
    source = get_object_or_404(
        AlertSource.objects.active().prefetch_related("other_teams"), team=team, pk=pk
    )
    led = set(teams_led_by(request.user).values_list("pk", flat=True))
    current = {t.pk for t in source.other_teams.all()}
    offered = list(Team.objects.filter(pk__in=(led | current) - {team.pk}))
    form = OtherTeamsForm(request.POST, source=source, teams=offered, led=led)
    if not form.is_valid():
        return _sources_page(request, team, bound=form, status=422)
    form.save()
    names = sorted(t.name for t in source.other_teams.all())
    if names:
        message = _("%(name)s files alerts for %(team)s and, by team label, for %(others)s.") % {
            "name": source.name,
            "team": team.name,
            "others": ", ".join(names),
        }
    else:
        message = _("%(name)s files alerts for %(team)s only.") % {
            "name": source.name,
            "team": team.name,
        }
    messages.success(request, message)
    return redirect("alerts:sources", team.slug)


@login_required
@require_POST
def withdraw_source(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A lead takes their team off another team's source: its team labels no longer file here."""
    team = _team_led(request, slug)
    source = get_object_or_404(AlertSource.objects.select_related("team"), other_teams=team, pk=pk)
    source.other_teams.remove(team)
    messages.success(
        request,
        _("%(source)s no longer files alerts for %(team)s.")
        % {"source": f"{source.team.name} / {source.name}", "team": team.name},
    )
    return redirect("alerts:sources", team.slug)


def _get_shift_for_user(request: HttpRequest, pk: int) -> ShadowShift:
    """The shift, if the user is its trainee or primary, a member of its team, or staff."""
    return get_object_or_404(
        ShadowShift.objects.visible_to(request.user).select_related("team"), pk=pk
    )


@login_required
@never_cache
def shift_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The alerts card of a shift alone (htmx polls it while the shift is on)."""
    shift = _get_shift_for_user(request, pk)
    if not request.htmx:
        return redirect(f"{shift.get_absolute_url()}#shift-alerts")
    if shift.starts_at > timezone.now():
        raise Http404(_("The shift has not started."))
    context = timeline_context(shift, tz=request.user.profile.tz, now=timezone.now())
    return render(request, "alerts/timeline.html", context)
