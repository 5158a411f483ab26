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
        verbosity = options["verbosity"]

        def out(line: str) -> None:
            # What each app created, line by line, for whoever asks (-v 2).
            if verbosity >= 2:
                self.stdout.write(f"  + {line}")

        with transaction.atomic():
            for config in apps.get_app_configs():
                if not config.name.startswith("oncall."):
                    continue
                if find_spec(f"{config.name}.demo") is None:
                    continue
                import_module(f"{config.name}.demo").seed(out)
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(summary()))


def summary() -> str:
    """One line saying what the demo holds. Models are looked up by name: teams
    sits below the apps whose rows it counts and does not import them."""
    count = {
        label: apps.get_model(label).objects.count() if apps.is_installed(app) else 0
        for label, app in (
            ("teams.Team", "oncall.teams"),
            ("auth.User", "django.contrib.auth"),
            ("runbooks.Runbook", "oncall.runbooks"),
            ("shifts.ShadowShift", "oncall.shifts"),
            ("readiness.Onboarding", "oncall.readiness"),
        )
    }
    pending = 0
    if apps.is_installed("oncall.reminders"):
        pending = apps.get_model("reminders.Reminder").objects.filter(state="pending").count()
    return (
        f"Demo data ready: {count['teams.Team']} teams, {count['auth.User']} users, "
        f"{count['runbooks.Runbook']} runbooks, {count['shifts.ShadowShift']} shifts, "
        f"{count['readiness.Onboarding']} onboardings, {pending} reminders pending "
        "(sign-ins below; `manage.py seed_demo -v 2` lists everything)."
    )
