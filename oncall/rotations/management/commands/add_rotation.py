from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from oncall.rotations.forms import RotationForm, person_choice
from oncall.teams.models import Team


class Command(BaseCommand):
    help = "Add a rotation read from an iCalendar feed URL; prints its id."

    def add_arguments(self, parser):
        parser.add_argument("team", help="the team's slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True, help="http(s):// or webcal:// feed URL")
        parser.add_argument(
            "--person",
            default="attendee",
            help="attendee, organizer, pagerduty, goalert, or a regular expression over SUMMARY",
        )

    def handle(self, *args, team, name, url, person, **options):
        team_row = Team.objects.filter(slug=team).first()
        if team_row is None:
            raise CommandError(f"no team {team!r}")
        rule, pattern = person_choice(person)
        data = QueryDict(mutable=True)
        data.update({"name": name, "url": url, "person": rule, "pattern": pattern})
        form = RotationForm(data, team=team_row)
        if not form.is_valid():
            raise CommandError("; ".join(e for errors in form.errors.values() for e in errors))
        rotation = form.save(by=None)
        self.stdout.write(str(rotation.pk))
