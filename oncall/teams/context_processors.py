import functools

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

from oncall.teams.access import LedTeam, lead_memberships
from oncall.teams.models import Team

# The header's and footer's links. They are the same for everyone, and every
# page shows them, so each is worked out once (``reverse`` costs about 70 µs,
# and there are ten on a page), per URL configuration and script prefix.
SITE_LINKS = {
    "home": "readiness:home",
    "runbooks": "runbooks:index",
    "shifts": "shifts:index",
    "profile": "profile",
    "admin": "admin:index",
    "sign_out": "logout",
    "status": "healthz",
    "language": "set_language",
}


@functools.cache
def _site_links(urlconf: str, prefix: str) -> dict[str, str]:
    return {key: reverse(name, urlconf=urlconf) for key, name in SITE_LINKS.items()}


def header_lead_team(user) -> LedTeam | Team | None:
    """The team whose readiness the header links to: the first a user leads by name.

    Read once per request (on the user object, which each request loads):
    pages that answer "Not Modified" need it for their ETag before rendering.
    """
    if not hasattr(user, "_header_lead_team"):
        if user.is_staff:  # staff lead every team
            team = Team.objects.order_by("name").only("slug", "name").first()
        else:
            led = lead_memberships(user)
            team = led[0] if led else None
        user._header_lead_team = team
    return user._header_lead_team


def header_has_onboarding(user) -> bool:
    """Whether the home link reads "My onboarding": only for someone who has one
    (a primary's home is the people they teach; a lead's, the team's readiness)."""
    if not hasattr(user, "_header_has_onboarding"):
        # By the relation's name: teams sits below readiness and imports none of it.
        user._header_has_onboarding = user.onboardings.exists()
    return user._header_has_onboarding


def navigation(request: HttpRequest) -> dict:
    """The site's links, and for leads the team whose readiness the header links
    to (one query, lazily)."""
    context = {
        "site_links": _site_links(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["nav_lead_team"] = lambda: header_lead_team(user)
        context["nav_has_onboarding"] = lambda: header_has_onboarding(user)
    return context
