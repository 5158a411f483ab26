from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RunbooksConfig(AppConfig):
    name = "oncall.runbooks"
    verbose_name = _("Runbooks")
