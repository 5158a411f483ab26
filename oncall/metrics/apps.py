from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "oncall.metrics"
    verbose_name = _("The app's own metrics")
