from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oncall.alerts.alertmanager_api import AlertmanagerError, check_url
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


class OtherTeamsForm(forms.Form):
    """The teams a source may also file alerts for.

    Filing into a team is that team's business: a team may be added by a
    lead of it (staff lead every team); one already there may be taken off
    by a lead of the source's team, who answers for what the source sends.
    """

    teams = forms.TypedMultipleChoiceField(
        label=gettext_lazy("May also file alerts for"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": gettext_lazy(
                "Only a lead of a team can let a source file alerts for it."
            )
        },
        help_text=gettext_lazy(
            "An alert whose team label names one of these teams is filed there; "
            "any other team label is ignored and the alert stays with this team."
        ),
    )

    def __init__(
        self, *args, source: AlertSource, teams: list[Team], led: set[int], **kwargs
    ) -> None:
        """``teams``: every team a form of the page may offer, read once for all sources;
        ``led``: the primary keys of the teams the user leads."""
        kwargs.setdefault("prefix", f"source-{source.pk}")
        super().__init__(*args, **kwargs)
        self.source = source
        current = {team.pk for team in source.other_teams.all()}
        self.fields["teams"].choices = [
            (team.pk, team.name)
            for team in teams
            if team.pk != source.team_id and (team.pk in led or team.pk in current)
        ]
        self.fields["teams"].initial = sorted(current)

    def save(self) -> None:
        self.source.other_teams.set(self.cleaned_data["teams"])


class AlertmanagerUrlForm(forms.Form):
    """The Alertmanager drills post to for a source's team: set, changed or cleared.

    The URL is checked as the reminders app checks a webhook URL (see
    oncall/alerts/alertmanager_api.py): an address on a private network is
    refused unless the operator allows it with WEBHOOKS_ALLOW_PRIVATE.
    """

    alertmanager_url = forms.URLField(
        label=gettext_lazy("Alertmanager URL"),
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=gettext_lazy(
            "Its base URL, e.g. https://alertmanager.example.com (drills post to "
            "/api/v2/alerts there). Leave empty to feed drill pages directly."
        ),
    )

    def __init__(self, *args, source: AlertSource, **kwargs) -> None:
        kwargs.setdefault("prefix", f"am-{source.pk}")
        kwargs.setdefault("initial", {"alertmanager_url": source.alertmanager_url})
        super().__init__(*args, **kwargs)
        self.source = source

    def clean_alertmanager_url(self) -> str:
        url = self.cleaned_data["alertmanager_url"].strip()
        if url:
            try:
                check_url(url)
            except AlertmanagerError as error:
                raise forms.ValidationError(str(error)) from None
        return url.rstrip("/")

    def save(self) -> None:
        self.source.alertmanager_url = self.cleaned_data["alertmanager_url"]
        self.source.save(update_fields=["alertmanager_url"])
