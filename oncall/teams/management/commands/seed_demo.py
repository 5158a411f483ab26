"""Load the demo data: idempotent, creates only what is absent.

Each app may ship a ``demo`` module with ``seed(out)``; they run in the order
of INSTALLED_APPS, so an app's demo can rely on the apps it builds on.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = "Create the demo teams, users and data (idempotent)."

    def handle(self, *args, **options):
        def out(line: str) -> None:
            self.stdout.write(f"  + {line}")

        with transaction.atomic():
            for config in apps.get_app_configs():
                if not config.name.startswith("oncall."):
                    continue
                if find_spec(f"{config.name}.demo") is None:
                    continue
                import_module(f"{config.name}.demo").seed(out)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
