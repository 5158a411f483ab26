from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "oncall.alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        # The shift page shows the alerts of the shift and the debrief starts
        # from them; shifts cannot import alerts, so alerts registers with it.
        from oncall.alerts.timeline import pages_seen, shift_panel
        from oncall.shifts import panels

        panels.register(shift_panel)
        panels.register_pages_seen(pages_seen)
