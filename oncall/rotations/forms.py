"""Adding rotations and shadow plans: every value a person types is checked here."""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oncall.rotations import parse
from oncall.rotations.errors import FeedError
from oncall.rotations.fetch import MAX_BYTES, normalise_url
from oncall.rotations.models import Rotation, ShadowPlan
from oncall.shifts.models import ShadowShift

MAX_PLAN_DAYS = 366


def person_choice(value: str) -> tuple[str, str]:
    """``attendee|organizer|pagerduty|goalert`` or a regular expression → (rule, pattern)."""
    if value in (parse.ATTENDEE, parse.ORGANIZER, parse.PAGERDUTY, parse.GOALERT):
        return value, ""
    return parse.REGEX, value


class RotationForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    url = forms.CharField(
        label=gettext_lazy("Feed URL"),
        max_length=2000,
        required=False,
        help_text=gettext_lazy(
            "https:// or webcal:// — docs/rotations.md says where each tool shows it."
        ),
    )
    upload = forms.FileField(label=gettext_lazy("or an .ics file"), required=False)
    person = forms.ChoiceField(
        label=gettext_lazy("An event names its person by"), choices=Rotation.Person.choices
    )
    pattern = forms.CharField(
        label=gettext_lazy("Regular expression over the summary (a group named person)"),
        max_length=200,
        required=False,
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Rotation.objects.filter(team=self.team, name=name).exists():
            raise forms.ValidationError(_("The team already has a rotation with this name."))
        return name

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if url:
            try:
                normalise_url(url)
            except FeedError as e:
                raise forms.ValidationError(str(e)) from e
        return url

    def clean_upload(self) -> str:
        upload = self.cleaned_data.get("upload")
        if not upload:
            return ""
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MiB."))
        body = upload.read()
        try:
            parse.parse_calendar(body)
            return body.decode("utf-8")
        except (FeedError, UnicodeDecodeError) as e:
            raise forms.ValidationError(
                _("The file is not an iCalendar file in UTF-8: %(error)s") % {"error": e}
            ) from e

    def clean(self):
        data = super().clean()
        if bool(data.get("url")) == bool(data.get("upload")):
            raise forms.ValidationError(_("Give either a feed URL or an .ics file."))
        if data.get("person") == parse.REGEX:
            pattern = data.get("pattern", "")
            try:
                if not pattern or re.compile(pattern).groups == 0:
                    raise forms.ValidationError(
                        _(
                            "The regular expression needs a group for the person, e.g. (?P<person>.+)."
                        )
                    )
            except re.error as e:
                raise forms.ValidationError(
                    _("The regular expression is not valid: %(error)s") % {"error": e}
                ) from e
        return data

    def save(self, *, by) -> Rotation:
        data = self.cleaned_data
        return Rotation.objects.create(
            team=self.team,
            name=data["name"],
            url=data["url"],
            uploaded=data["upload"],
            person_rule=data["person"],
            person_pattern=data["pattern"] if data["person"] == parse.REGEX else "",
            time_zone=self.team.time_zone,
            created_by=by,
        )


class ShadowPlanForm(forms.Form):
    rotation = forms.ModelChoiceField(
        label=gettext_lazy("Rotation"), queryset=Rotation.objects.none()
    )
    trainee = forms.ModelChoiceField(
        label=gettext_lazy("Trainee"), queryset=get_user_model().objects.none()
    )
    starts_on = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput({"type": "date"})
    )
    ends_on = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput({"type": "date"}))
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ShadowShift.Kind.choices)
    earliest_start = forms.TimeField(
        label=gettext_lazy("Only shifts starting from"),
        required=False,
        widget=forms.TimeInput({"type": "time"}),
    )
    latest_start = forms.TimeField(
        label=gettext_lazy("until"), required=False, widget=forms.TimeInput({"type": "time"})
    )
    max_shifts = forms.IntegerField(
        label=gettext_lazy("At most this many shifts"), required=False, min_value=1, max_value=500
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["rotation"].queryset = Rotation.objects.filter(team=team)
        self.fields["trainee"].queryset = (
            get_user_model()
            .objects.filter(memberships__team=team, is_active=True)
            .order_by("username")
            .distinct()
        )

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends:
            if ends < starts:
                raise forms.ValidationError(_("The plan ends before it starts."))
            if ends - starts > timedelta(days=MAX_PLAN_DAYS):
                raise forms.ValidationError(
                    _("A plan covers at most %(days)s days.") % {"days": MAX_PLAN_DAYS}
                )
        return data

    def save(self, *, by) -> ShadowPlan:
        data = self.cleaned_data
        return ShadowPlan.objects.create(
            rotation=data["rotation"],
            trainee=data["trainee"],
            kind=data["kind"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            earliest_start=data.get("earliest_start"),
            latest_start=data.get("latest_start"),
            max_shifts=data.get("max_shifts"),
            created_by=by,
        )


class LinkForm(forms.Form):
    name = forms.CharField(max_length=200)
    user = forms.ModelChoiceField(
        label=gettext_lazy("is"), queryset=get_user_model().objects.none()
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model()
            .objects.filter(memberships__team=team, is_active=True)
            .order_by("username")
            .distinct()
        )
