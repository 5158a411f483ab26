from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Import runbooks from folders (the importer arrives with the runbooks app)."

    def add_arguments(self, parser):
        parser.add_argument("dirs", nargs="*")

    def handle(self, *args, **options):
        self.stdout.write("sync_runbooks: nothing to do yet")
