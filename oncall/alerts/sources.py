"""Creating alert sources, from the lead's page, the admin or the command line."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from oncall.alerts.models import AlertSource
from oncall.teams.models import Team


def receiver_url() -> str:
    return f"{settings.SITE_URL}{reverse('alerts:alertmanager')}"


@transaction.atomic
def create_source(
    *, team: Team, name: str, created_by=None, other_teams: Iterable[Team] = ()
) -> tuple[AlertSource, str]:
    """A new source and its token (the only moment the token exists in clear);
    ``other_teams``: the teams its alerts' team label may also name."""
    source = AlertSource(team=team, name=name, created_by=created_by)
    token = source.set_new_token()
    source.save()
    if others := [t for t in other_teams if t.pk != team.pk]:
        source.other_teams.add(*others)
    return source, token


def webhook_snippet(*, source: AlertSource, token: str) -> str:
    """The Alertmanager configuration to paste: a receiver, and a route that copies alerts to it."""
    receiver = f"oncall-{source.team.slug}-{source.name}".replace(" ", "-")
    return "\n".join(
        [
            "route:",
            f"  # receiver: {receiver}   (a new alertmanager.yml needs this default)",
            "  routes:",
            f"    - receiver: {receiver}",
            "      # A copy for oncall; the routes after this one still page as before.",
            "      continue: true",
            "      # Its own timers: a new alert reaches a trainee within seconds,",
            "      # whatever your paging routes wait for.",
            "      group_by: [alertname]",
            "      group_wait: 10s",
            "      group_interval: 1m",
            "receivers:",
            f"  - name: {receiver}",
            "    webhook_configs:",
            f"      - url: {receiver_url()}",
            "        send_resolved: true",
            "        http_config:",
            "          authorization:",
            "            type: Bearer",
            f"            credentials: {token}",
        ]
    )
