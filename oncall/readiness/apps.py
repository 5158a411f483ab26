from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReadinessConfig(AppConfig):
    name = "oncall.readiness"
    verbose_name = _("Readiness")

    def ready(self) -> None:
        # The runbook page shows "Mark as read (revision N)" to a trainee who
        # has it on their checklist; runbooks cannot import readiness, so
        # readiness registers the card with it.
        from oncall.readiness.panel import runbook_panel
        from oncall.runbooks import panels

        panels.register(runbook_panel)
