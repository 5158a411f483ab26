from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language_from_request
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from oncall.teams import health, language, ratelimit
from oncall.teams.forms import ProfileForm
from oncall.teams.subscribe import subscription

# A new calendar link is cheap for us, but each one breaks every subscribed
# calendar: a handful an hour covers a leak and a mistake.
CALENDAR_LINK_LIMIT = ratelimit.Limit("calendar-link", count=5, period=timedelta(hours=1))


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    # Normally answered by health.HealthzMiddleware; the same answer if it is not installed.
    return health.respond()


def render_profile(request: HttpRequest, form: ProfileForm | None = None, *, status: int = 200):
    """The profile page; ``no-store`` because it shows the secret calendar link."""
    profile = request.user.profile
    if form is None:
        form = ProfileForm(instance=profile)
    feed = subscription(request.build_absolute_uri(f"/shifts/feed/{profile.calendar_token}.ics"))
    response = render(
        request,
        "teams/profile.html",
        {"form": form, "feed_url": feed["url"], "feed": feed},
        status=status,
    )
    add_never_cache_headers(response)  # Cache-Control: no-store, among others
    return response


def too_many(request: HttpRequest, text: str, decision: ratelimit.Decision) -> HttpResponse:
    """Refuse a rate-limited POST: the profile page with the reason, status 429."""
    messages.error(request, f"{text} {decision.message()}")
    response = render_profile(request, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=request.user.profile)
        if form.is_valid():
            form.save()
            # The new language applies at once, to this message too.
            language.remember(request, form.instance.language)
            language.apply(request, form.instance.language or get_language_from_request(request))
            messages.success(request, _("Your settings are saved."))
            return redirect("profile")
        return render_profile(request, form)
    return render_profile(request)


@login_required
@require_POST
def regenerate_calendar_token(request: HttpRequest) -> HttpResponse:
    decision = ratelimit.hit(CALENDAR_LINK_LIMIT, request.user.pk)
    if not decision.allowed:
        made = _("You made %(count)d new calendar links in the last hour.") % {
            "count": CALENDAR_LINK_LIMIT.count
        }
        return too_many(request, made, decision)
    request.user.profile.regenerate_calendar_token()
    messages.success(
        request,
        _("Your calendar link is new; the old one stopped working. Update your calendar app."),
    )
    return redirect("profile")
