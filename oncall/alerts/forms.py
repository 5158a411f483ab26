from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oncall.alerts.models import AlertSource
from oncall.teams.models import Team


class AlertSourceForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("Which Alertmanager sends here, e.g. “prod-eu”."),
    )

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the source a name."))
        if AlertSource.objects.active().filter(team=self.team, name=name).exists():
            raise forms.ValidationError(
                _(
                    "This team already has a source called %(name)s; revoke it first or pick another name."
                )
                % {"name": name}
            )
        return name
