from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from oncall.celery import app


class RotationsConfig(AppConfig):
    name = "oncall.rotations"
    verbose_name = _("Rotations")

    def ready(self) -> None:
        # Beat looks for feeds whose interval has passed; each message expires
        # before the next tick, so a backed-up queue does not read feeds twice.
        tick = float(settings.ROTATIONS_TICK_SECONDS)
        app.conf.beat_schedule.setdefault(
            "rotations-read-due",
            {
                "task": "oncall.rotations.tasks.read_due",
                "schedule": tick,
                "options": {"expires": max(1.0, tick - 1)},
            },
        )
