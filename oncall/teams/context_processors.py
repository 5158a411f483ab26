from django.http import HttpRequest

from oncall.teams.access import teams_led_by


def navigation(request: HttpRequest) -> dict:
    """The team whose readiness the header links to, for leads (one query, lazily)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def lead_team():
        return teams_led_by(user).only("slug", "name").first()

    return {"nav_lead_team": lead_team}
