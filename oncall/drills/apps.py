from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DrillsConfig(AppConfig):
    name = "oncall.drills"
    verbose_name = _("Drills")

    def ready(self) -> None:
        # Each registers what drills add to the apps below them (the runbook
        # page, the shift page, the alert receiver), which must not import drills.
        from oncall.drills import feed_events, live, via_alertmanager  # noqa: F401
