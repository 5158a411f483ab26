from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from oncall.readiness.describe import cleaned_description
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
        fields = ["name", "name_ja", "description", "team"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, teams, allow_shared: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["team"].required = not allow_shared
        self.fields["team"].empty_label = _("Every team (shared)") if allow_shared else None
        self.fields["name_ja"].help_text = _("Shown to people who read the site in Japanese.")


NEW_SECTION = "__new__"


class TemplateItemForm(forms.ModelForm):
    """One checklist item. The section is picked from the template's sections
    or typed as a new one; the order is set by moving items in the list."""

    section = forms.ChoiceField(label=_("Section"))
    new_section = forms.CharField(
        label=_("New section"),
        max_length=100,
        required=False,
        help_text=_("Only when “New section…” is chosen above."),
    )

    class Meta:
        model = TemplateItem
        fields = [
            "title",
            "description",
            "section_ja",
            "title_ja",
            "description_ja",
            "kind",
            "runbook",
            "count",
            "required",
            "needs_signoff",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3, "maxlength": 4000}),
            "description_ja": forms.Textarea(attrs={"rows": 3, "maxlength": 4000, "lang": "ja"}),
            "section_ja": forms.TextInput(attrs={"lang": "ja"}),
            "title_ja": forms.TextInput(attrs={"lang": "ja"}),
        }
        help_texts = {
            "description": _("Markdown: **bold**, lists, links. At most 4000 characters."),
            "section_ja": _("Left empty, the section’s Japanese name from its other items."),
            "title_ja": _("Shown to people who read the site in Japanese; empty shows the title."),
            "description_ja": _("Markdown, as above. Empty shows the description."),
        }

    def __init__(self, *args, template, **kwargs):
        super().__init__(*args, **kwargs)
        sections = list(dict.fromkeys(template.items.values_list("section", flat=True)))
        self.fields["section"].choices = [(s, s) for s in sections] + [
            (NEW_SECTION, _("New section…"))
        ]
        if self.instance.pk:
            self.initial.setdefault("section", self.instance.section)
        elif sections:
            self.initial.setdefault("section", sections[-1])
        else:
            self.initial.setdefault("section", NEW_SECTION)
        self.fields["runbook"].queryset = Runbook.objects.filter(archived=False).order_by("slug")
        self.fields["runbook"].label_from_instance = lambda rb: f"{rb.title} ({rb.slug})"
        self.fields["runbook"].help_text = _("For “read a runbook” items.")
        self.fields["count"].help_text = _("How many shifts of this kind, or drills passed, count.")
        # A section's Japanese name, so a lead names it once for all its items.
        self.section_names_ja = dict(
            template.items.exclude(section_ja="").values_list("section", "section_ja")
        )
        self.order_fields(["section", "new_section", "title", "description", "kind"])

    def clean_description(self) -> str:
        text = self.cleaned_data.get("description", "")
        self.description_html = cleaned_description(text)
        return text

    def clean_description_ja(self) -> str:
        text = self.cleaned_data.get("description_ja", "")
        self.description_html_ja = cleaned_description(text)
        return text

    def clean(self):
        data = super().clean()
        if data.get("section") == NEW_SECTION:
            name = (data.get("new_section") or "").strip()
            if not name:
                self.add_error("new_section", _("Name the new section."))
            data["section"] = name
        if not (data.get("section_ja") or "").strip():
            data["section_ja"] = self.section_names_ja.get(data.get("section"), "")
        kind = data.get("kind")
        if kind == Kind.READ_RUNBOOK and not data.get("runbook"):
            self.add_error("runbook", _("Pick the runbook to read."))
        if kind != Kind.READ_RUNBOOK and data.get("runbook"):
            self.add_error("runbook", _("Only “read a runbook” items link a runbook."))
        if kind in (Kind.SHADOW_SHIFT, Kind.REVERSE_SHADOW_SHIFT):
            if data.get("count") is not None and not 1 <= data["count"] <= 100:
                self.add_error("count", _("Between 1 and 100 shifts."))
        elif kind == Kind.DRILL:
            if data.get("count") is not None and not 1 <= data["count"] <= 100:
                self.add_error("count", _("Between 1 and 100 drills."))
        else:
            data["count"] = 1  # a count means something for shift and drill items only
        return data
