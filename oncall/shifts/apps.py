from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShiftsConfig(AppConfig):
    name = "oncall.shifts"
    verbose_name = _("Shadow shifts")

    def ready(self) -> None:
        # A runbook's page shows its owner what debriefs flagged in it; runbooks
        # cannot import shifts, so shifts registers the card.
        from oncall.runbooks import panels
        from oncall.shifts.flags import flags_panel

        panels.register(flags_panel)
