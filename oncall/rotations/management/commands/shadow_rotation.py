from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from oncall.rotations.forms import ShadowPlanForm
from oncall.rotations.models import Rotation
from oncall.rotations.reconcile import reconcile_plan
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Team


class Command(BaseCommand):
    help = "A trainee shadows a rotation between two dates; prints the plan's id and what it did."

    def add_arguments(self, parser):
        parser.add_argument("team", help="the team's slug")
        parser.add_argument("rotation", help="the rotation's name")
        parser.add_argument("--trainee", required=True, help="username")
        parser.add_argument("--from", dest="starts_on", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="ends_on", required=True, help="YYYY-MM-DD")
        parser.add_argument(
            "--kind", default=ShadowShift.Kind.SHADOW, choices=list(ShadowShift.Kind.values)
        )
        parser.add_argument("--earliest", default="", help="only shifts starting from HH:MM")
        parser.add_argument("--latest", default="", help="only shifts starting until HH:MM")
        parser.add_argument("--max-shifts", default="", help="at most this many shifts")

    def handle(self, *args, team, rotation, trainee, starts_on, ends_on, kind, **options):
        team_row = Team.objects.filter(slug=team).first()
        if team_row is None:
            raise CommandError(f"no team {team!r}")
        rotation_row = Rotation.objects.filter(team=team_row, name=rotation).first()
        if rotation_row is None:
            raise CommandError(f"no rotation {rotation!r} in {team}")
        person = get_user_model().objects.filter(username=trainee).first()
        if person is None:
            raise CommandError(f"no user {trainee!r}")
        form = ShadowPlanForm(
            {
                "rotation": rotation_row.pk,
                "trainee": person.pk,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "kind": kind,
                "earliest_start": options["earliest"],
                "latest_start": options["latest"],
                "max_shifts": options["max_shifts"],
            },
            team=team_row,
        )
        if not form.is_valid():
            raise CommandError("; ".join(e for errors in form.errors.values() for e in errors))
        plan = form.save(by=None)
        outcome = reconcile_plan(plan)
        self.stdout.write(
            f"{plan.pk}: {outcome.scheduled} shadow shifts scheduled, {outcome.skipped} skipped"
        )
        for clash in outcome.clashes:
            self.stdout.write(f"  skipped: {clash}")
