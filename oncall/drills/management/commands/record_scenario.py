"""``manage.py record_scenario <team> --from ISO --to ISO --title T``: every alert the team
received in the window becomes a step; prints the scenario id."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from oncall.core.text import TextRefused, check_moment, check_text
from oncall.drills.record import record_scenario, team_alerts
from oncall.drills.steps import StepError
from oncall.teams.models import Team


def moment(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise CommandError(f"{name} {value!r} needs a time zone offset, e.g. 2026-11-02T03:00Z")
    try:
        return check_moment(parsed, name=name)
    except TextRefused as error:
        raise CommandError(str(error)) from None


class Command(BaseCommand):
    help = "Record a drill scenario from the team's alerts in a time window; prints its id."

    def add_arguments(self, parser):
        parser.add_argument("team", help="the team's slug")
        parser.add_argument("--from", dest="start", required=True, help="ISO time, with offset")
        parser.add_argument("--to", dest="end", required=True, help="ISO time, with offset")
        parser.add_argument("--title", required=True)
        parser.add_argument("--root-cause", default="")
        parser.add_argument("--ack-target", type=int, default=300, help="seconds (default 300)")

    def handle(self, *args, team, start, end, title, root_cause, ack_target, **options):
        found = Team.objects.filter(slug=team).first()
        if found is None:
            raise CommandError(f"no team has the slug {team!r}")
        start, end = moment(start, "--from"), moment(end, "--to")
        if end <= start:
            raise CommandError("--to must be after --from")
        title = title.strip()
        if not title or len(title) > 200:
            raise CommandError("--title must be 1 to 200 characters")
        if not 1 <= ack_target <= 24 * 60 * 60:
            raise CommandError("--ack-target must be 1 to 86400 seconds")
        try:
            check_text(title, name="--title")
            check_text(root_cause, name="--root-cause")
        except TextRefused as error:
            raise CommandError(str(error)) from None
        occurrences = list(team_alerts(found, start, end))
        if not occurrences:
            raise CommandError(f"{found.slug} received no alert from {start} to {end}")
        try:
            scenario = record_scenario(
                team=found,
                title=title,
                occurrences=occurrences,
                root_cause=root_cause,
                ack_target=ack_target,
            )
        except StepError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(str(scenario.pk))
