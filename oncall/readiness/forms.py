from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from oncall.readiness.models import ChecklistTemplate, Kind, Onboarding, TemplateItem
from oncall.runbooks.models import Runbook
from oncall.teams.models import Team
from oncall.teams.people import display_name


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Evidence or a question for your lead (optional)."),
    )


class ActionNoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


def available_templates(team: Team):
    """Templates a team can start onboardings from: its own and the shared ones."""
    return ChecklistTemplate.objects.filter(Q(team=team) | Q(team__isnull=True))


class StartOnboardingForm(forms.Form):
    engineer = forms.ModelChoiceField(label=_("Engineer"), queryset=None)
    template = forms.ModelChoiceField(label=_("Checklist template"), queryset=None)
    mentor = forms.ModelChoiceField(label=_("Mentor"), queryset=None, required=False)
    target_date = forms.DateField(
        label=_("Target date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        members = get_user_model().objects.filter(memberships__team=team).order_by("username")
        self.fields["engineer"].queryset = members
        self.fields["mentor"].queryset = members
        self.fields["engineer"].label_from_instance = display_name
        self.fields["mentor"].label_from_instance = display_name
        self.fields["template"].queryset = available_templates(team).order_by("name")

    def clean(self):
        data = super().clean()
        engineer, mentor = data.get("engineer"), data.get("mentor")
        if engineer and mentor and engineer == mentor:
            self.add_error("mentor", _("Pick someone other than the engineer as their mentor."))
        if (
            engineer
            and Onboarding.objects.filter(engineer=engineer, team=self.team)
            .exclude(state=Onboarding.State.CLEARED)
            .exists()
        ):
            self.add_error(
                "engineer",
                _("%(name)s already has an onboarding in progress in this team.")
                % {"name": display_name(engineer)},
            )
        return data


class TemplateForm(forms.ModelForm):
    class Meta:
        model = ChecklistTemplate
        fields = ["name", "description", "team"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, teams, allow_shared: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].required = not allow_shared
        self.fields["team"].empty_label = _("Every team (shared)") if allow_shared else None


class TemplateItemForm(forms.ModelForm):
    class Meta:
        model = TemplateItem
        fields = [
            "section",
            "title",
            "description",
            "kind",
            "runbook",
            "count",
            "required",
            "needs_signoff",
            "order",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"description": _("Markdown: **bold**, lists, links.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["runbook"].queryset = Runbook.objects.filter(archived=False).order_by("slug")
        self.fields["runbook"].label_from_instance = lambda rb: f"{rb.title} ({rb.slug})"
        self.fields["runbook"].help_text = _("For “read a runbook” items.")

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Kind.READ_RUNBOOK and not data.get("runbook"):
            self.add_error("runbook", _("Pick the runbook to read."))
        if kind != Kind.READ_RUNBOOK and data.get("runbook"):
            self.add_error("runbook", _("Only “read a runbook” items link a runbook."))
        if data.get("count") is not None and data["count"] < 1:
            self.add_error("count", _("At least 1."))
        return data
