"""``manage.py create_alert_source <team-slug> --name NAME``: a source for scripts."""

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

    def handle(self, *args, team: str, name: str, **options):
        found = Team.objects.filter(slug=team).first()
        if found is None:
            known = ", ".join(Team.objects.order_by("slug").values_list("slug", flat=True)[:20])
            raise CommandError(f"no team has the slug {team!r} (teams: {known or 'none yet'})")
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters")
        if AlertSource.objects.active().filter(team=found, name=name).exists():
            raise CommandError(
                f"{found.slug} already has an active source called {name!r}; "
                "revoke it in the app or the admin, or pick another name"
            )
        source, token = create_source(team=found, name=name)
        self.stdout.write(f"Receiver URL: {receiver_url()}")
        self.stdout.write(f"Token (shown only this once): {token}")
        self.stdout.write("")
        self.stdout.write("alertmanager.yml:")
        self.stdout.write(webhook_snippet(source=source, token=token))
