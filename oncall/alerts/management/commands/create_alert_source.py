"""``manage.py create_alert_source <team-slug> --name NAME [--other-team SLUG ...]``:
a source for scripts."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oncall.alerts.models import AlertSource
from oncall.alerts.sources import create_source, receiver_url, webhook_snippet
from oncall.teams.models import Team


class Command(BaseCommand):
    help = (
        "Create an alert source for a team and print the receiver URL, the bearer token "
        "(shown only this once) and the Alertmanager webhook_configs snippet."
    )

    def add_arguments(self, parser):
        parser.add_argument("team", help="the team's slug")
        parser.add_argument("--name", required=True, help="which Alertmanager sends, e.g. prod-eu")
        parser.add_argument(
            "--other-team",
            action="append",
            default=[],
            dest="other_teams",
            metavar="SLUG",
            help="another team whose slug the alerts' team label may name (repeatable); "
            "any other team label is ignored",
        )

    def handle(self, *args, team: str, name: str, other_teams: list[str], **options):
        found = self.team(team)
        others = [self.team(slug) for slug in dict.fromkeys(other_teams) if slug != team]
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters")
        if AlertSource.objects.active().filter(team=found, name=name).exists():
            raise CommandError(
                f"{found.slug} already has an active source called {name!r}; "
                "revoke it in the app or the admin, or pick another name"
            )
        source, token = create_source(team=found, name=name, other_teams=others)
        # The URL is built from SITE_URL; unset, that is 127.0.0.1 and this
        # shell's PORT, which need not be where the app runs.
        if os.environ.get("SITE_URL"):
            self.stdout.write(f"Site URL (SITE_URL): {settings.SITE_URL}")
        else:
            self.stdout.write(
                f"Site URL: {settings.SITE_URL} (SITE_URL is not set: this assumes the app "
                f"runs here on port {settings.PORT}; set SITE_URL to the address "
                "Alertmanager reaches, and the receiver URL below follows it)"
            )
        self.stdout.write(f"Receiver URL: {receiver_url()}")
        self.stdout.write(f"Token (shown only this once): {token}")
        if others:
            slugs = ", ".join(t.slug for t in others)
            self.stdout.write(f"Team labels followed for: {slugs} (any other files under {team})")
        self.stdout.write("")
        self.stdout.write("alertmanager.yml:")
        self.stdout.write(webhook_snippet(source=source, token=token))

    def team(self, slug: str) -> Team:
        found = Team.objects.filter(slug=slug).first()
        if found is None:
            known = ", ".join(Team.objects.order_by("slug").values_list("slug", flat=True)[:20])
            raise CommandError(f"no team has the slug {slug!r} (teams: {known or 'none yet'})")
        return found
