"""Forms for recording a scenario and scheduling a drill; times are entered in the viewer's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oncall.core.text import TextRefused, check_text
from oncall.drills.models import DEFAULT_ACK_TARGET
from oncall.drills.steps import MAX_OFFSET, MAX_VALUE

MAX_WINDOW_DAYS = 31


def aware(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A naive local time typed in ``tz`` as an aware time."""
    if value is None:
        return None
    if not 2000 <= value.year <= 2999:
        raise forms.ValidationError(_("Pick a time between the years 2000 and 2999."))
    if value.tzinfo is not None:
        # The field made the typed time aware in the current zone; it was typed in ``tz``.
        value = timezone.make_naive(value)
    return value.replace(tzinfo=tz)


def local_input(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def checked_text(value: str, name: str) -> str:
    try:
        return check_text(value, name=name)
    except TextRefused as error:
        raise forms.ValidationError(str(error)) from None


class WindowForm(forms.Form):
    """The time window of the team's alerts to pick from."""

    start = forms.DateTimeField(label=gettext_lazy("From"), widget=LocalDateTimeInput())
    end = forms.DateTimeField(label=gettext_lazy("To"), widget=LocalDateTimeInput())

    def __init__(self, *args, tz: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean(self) -> dict:
        data = super().clean()
        try:
            start = aware(data.get("start"), self.tz)
            end = aware(data.get("end"), self.tz)
        except forms.ValidationError as error:
            self.add_error("start", error)
            return data
        if start and end:
            if end <= start:
                self.add_error("end", _("The window must end after it starts."))
            elif (end - start).days > MAX_WINDOW_DAYS:
                self.add_error(
                    "end", _("Pick a window of at most %(days)s days.") % {"days": MAX_WINDOW_DAYS}
                )
        data["start"], data["end"] = start, end
        return data


# What the record page says of a bad line: whole sentences for labels and for
# annotations, so that each language can say them its own way.
PAIR_ERRORS = {
    "labels": (
        gettext_lazy("Labels line %(n)s is not key=value."),
        gettext_lazy("The label %(key)s is longer than %(max)s bytes."),
    ),
    "annotations": (
        gettext_lazy("Annotations line %(n)s is not key=value."),
        gettext_lazy("The annotation %(key)s is longer than %(max)s bytes."),
    ),
}


def parse_pairs(text: str, *, field: str) -> dict[str, str]:
    """``key=value`` lines (what the record page shows for labels and annotations);
    ``field`` is "labels" or "annotations"."""
    not_a_pair, too_long = PAIR_ERRORS[field]
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(str(not_a_pair) % {"n": number})
        if len(value.encode()) > MAX_VALUE:
            raise forms.ValidationError(str(too_long) % {"key": key.strip()[:60], "max": MAX_VALUE})
        pairs[key.strip()] = checked_text(value.strip(), f"{field} {key.strip()[:60]}")
    return pairs


def show_pairs(values: dict) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(values.items()) if k != "alertname")


class ScenarioDetailsForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    brief = forms.CharField(
        label=gettext_lazy("Brief for the trainee"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    hidden_notes = forms.CharField(
        label=gettext_lazy("Game master's notes (hidden from the trainee until the end)"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    root_cause = forms.CharField(
        label=gettext_lazy("Root cause (hidden from the trainee until the end)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    ack_target = forms.IntegerField(
        label=gettext_lazy("Acknowledge target (minutes)"),
        min_value=1,
        max_value=24 * 60,
        initial=DEFAULT_ACK_TARGET // 60,
    )

    def clean(self) -> dict:
        data = super().clean()
        for name in ("title", "brief", "hidden_notes", "root_cause"):
            if data.get(name):
                try:
                    data[name] = checked_text(data[name], str(self.fields[name].label))
                except forms.ValidationError as error:
                    self.add_error(name, error)
        return data


def parse_injects(offsets: list[str], texts: list[str]) -> list[tuple[int, str]]:
    """Inject rows of the record page: minutes from the first alert, and text."""
    injects = []
    for number, (offset, text) in enumerate(zip(offsets, texts, strict=False), start=1):
        text = text.strip()
        if not text and not offset.strip():
            continue
        try:
            minutes = float(offset)
        except ValueError:
            raise forms.ValidationError(
                _("Inject %(n)s: the offset must be a number of minutes.") % {"n": number}
            ) from None
        seconds = round(minutes * 60)
        if not 0 <= seconds <= MAX_OFFSET:
            raise forms.ValidationError(
                _("Inject %(n)s: the offset must be from 0 to 1440 minutes.") % {"n": number}
            )
        if not text:
            raise forms.ValidationError(_("Inject %(n)s has no text.") % {"n": number})
        injects.append((seconds, checked_text(text, _("Inject %(n)s") % {"n": number})))
    return injects


class ScheduleForm(forms.Form):
    trainee = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Trainee"))
    game_master = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Game master"))
    at = forms.DateTimeField(
        label=gettext_lazy("Start at (empty: now)"), required=False, widget=LocalDateTimeInput()
    )

    def __init__(self, *args, team, tz: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        members = get_user_model().objects.filter(memberships__team=team).order_by("username")
        self.fields["trainee"].queryset = members
        self.fields["game_master"].queryset = members
        self.tz = tz

    def clean_at(self):
        return aware(self.cleaned_data.get("at"), self.tz)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("trainee") and data.get("trainee") == data.get("game_master"):
            self.add_error(
                "game_master",
                _("A trainee cannot run their own drill: choose another game master."),
            )
        return data
