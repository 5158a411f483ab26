from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from oncall.teams import health
from oncall.teams.forms import ProfileForm


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, body = health.report()
    return JsonResponse(body, status=200 if healthy else 503)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    profile = request.user.profile
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=profile)
        if form.is_valid():
            form.save()
            messages.success(request, _("Your settings are saved."))
            return redirect("profile")
    else:
        form = ProfileForm(instance=profile)
    feed_url = request.build_absolute_uri(f"/shifts/feed/{profile.calendar_token}.ics")
    return render(request, "teams/profile.html", {"form": form, "feed_url": feed_url})


@login_required
@require_POST
def regenerate_calendar_token(request: HttpRequest) -> HttpResponse:
    request.user.profile.regenerate_calendar_token()
    messages.success(
        request,
        _("Your calendar link is new; the old one stopped working. Update your calendar app."),
    )
    return redirect("profile")
