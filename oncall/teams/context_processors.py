from django.http import HttpRequest

from oncall.teams.access import LedTeam, lead_memberships
from oncall.teams.models import Team


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


def navigation(request: HttpRequest) -> dict:
    """The team whose readiness the header links to, for leads (one query, lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_lead_team": lambda: header_lead_team(user)}
