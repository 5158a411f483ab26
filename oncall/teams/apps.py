from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamsConfig(AppConfig):
    name = "oncall.teams"
    verbose_name = _("Teams and people")

    def ready(self) -> None:
        from oncall.teams import language, signals  # noqa: F401 - connect their receivers
