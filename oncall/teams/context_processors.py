from django.http import HttpRequest

from oncall.teams.access import lead_memberships
from oncall.teams.models import Team


def navigation(request: HttpRequest) -> dict:
    """The team whose readiness the header links to, for leads (one query, lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def lead_team():
        if user.is_staff:  # staff lead every team
            return Team.objects.order_by("name").only("slug", "name").first()
        led = lead_memberships(user)
        return led[0] if led else None

    return {"nav_lead_team": lead_team}
