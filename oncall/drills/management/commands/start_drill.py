"""``manage.py start_drill <scenario-id> --trainee U --game-master U [--at ISO]``:
prints the drill id and the console URL."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from oncall.drills.management.commands.record_scenario import moment
from oncall.drills.models import Scenario
from oncall.drills.running import DrillError, schedule_drill


class Command(BaseCommand):
    help = "Schedule a drill of a scenario (now, or --at a time); prints its id and console URL."

    def add_arguments(self, parser):
        parser.add_argument("scenario", type=int, help="the scenario's id")
        parser.add_argument("--trainee", required=True, help="username")
        parser.add_argument("--game-master", required=True, help="username")
        parser.add_argument("--at", default="", help="ISO time with offset (default: now)")

    def handle(self, *args, scenario, trainee, game_master, at, **options):
        found = Scenario.objects.select_related("team").filter(pk=scenario).first()
        if found is None:
            raise CommandError(f"no scenario has the id {scenario}")
        users = get_user_model().objects
        people = {}
        for option, name in (("--trainee", trainee), ("--game-master", game_master)):
            people[option] = users.filter(username=name).first()
            if people[option] is None:
                raise CommandError(f"{option}: no user is called {name!r}")
        when = moment(at, "--at") if at else None
        try:
            drill = schedule_drill(
                scenario=found,
                trainee=people["--trainee"],
                game_master=people["--game-master"],
                at=when,
            )
        except DrillError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(str(drill.pk))
        self.stdout.write(settings.SITE_URL.rstrip("/") + drill.get_absolute_url())
