from django.core.management.base import BaseCommand, CommandError

from oncall.rotations.models import Rotation
from oncall.rotations.read import read_rotations


class Command(BaseCommand):
    help = "Read every rotation's feed now and reconcile its shadow plans; one line per rotation."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="", help="only this team's rotations (slug)")

    def handle(self, *args, team, **options):
        rotations = Rotation.objects.select_related("team").order_by("team__slug", "name")
        if team:
            rotations = rotations.filter(team__slug=team)
            if not rotations.exists():
                raise CommandError(f"no rotation in team {team!r}")
        for result in read_rotations(list(rotations)):
            self.stdout.write(result.line())
