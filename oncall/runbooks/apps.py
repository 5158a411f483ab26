from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RunbooksConfig(AppConfig):
    name = "oncall.runbooks"
    verbose_name = _("Runbooks")

    def ready(self):
        from oncall.runbooks import alert_help, changes

        # Help for unknown alerts is worked out from the runbooks: new revisions renew it.
        changes.on_revisions_changed(alert_help.forget)
