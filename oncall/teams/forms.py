from functools import cache

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from oncall.core.text import TextRefused, check_text
from oncall.teams.models import (
    DEFAULT_LEAD_TIMES,
    LANGUAGE_CHOICES,
    Profile,
    Team,
    time_zone_choices,
)
from oncall.teams.names import validate_printable

# The range of a 64-bit signed integer column: every primary key the database holds.
PK_MIN, PK_MAX = -(2**63), 2**63 - 1


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multiple choice of rows whose ids are range-checked before any query.

    Django checks the chosen ids with an ``IN (...)`` query; on SQLite an id
    past 64 bits raises ``OverflowError`` there (a 500). Such an id cannot name
    a row, so it is an invalid choice like any other unknown id.
    """

    def clean(self, value):
        if self.to_field_name is None and isinstance(value, (list, tuple)):
            for choice in value:
                try:
                    number = int(str(choice).strip())
                except ValueError:
                    continue  # not a number: Django's own check names it
                if not PK_MIN <= number <= PK_MAX:
                    raise forms.ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": str(choice)[:30]},
                    )
        return super().clean(value)


class PrintableNamesMixin:
    """Refuse control characters in the name fields a form has (admin's user forms)."""

    name_fields = ("first_name", "last_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.name_fields:
            if name in self.fields:
                self.fields[name].validators.append(validate_printable)


class LeadTimesField(forms.CharField):
    """Minutes or hours before a shift, written as "24h, 1h, 30m"."""

    def to_python(self, value):
        value = super().to_python(value)
        minutes = []
        for part in (p.strip().lower() for p in value.split(",")):
            if not part:
                continue
            unit = part[-1]
            number = part[:-1] if unit in "hm" else part
            try:
                amount = int(number)
            except ValueError:
                raise forms.ValidationError(
                    _("“%(part)s” is not a lead time: write 24h, 1h or 30m."),
                    params={"part": part},
                ) from None
            total = amount * 60 if unit == "h" else amount
            if not 1 <= total <= 14 * 24 * 60:
                raise forms.ValidationError(
                    _("Lead times are between 1 minute and 14 days; “%(part)s” is not."),
                    params={"part": part},
                )
            minutes.append(total)
        return sorted(set(minutes), reverse=True)

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(f"{m // 60}h" if m % 60 == 0 else f"{m}m" for m in value)
        return value


@cache
def _time_zone_options() -> tuple[dict[str, int], tuple[str, ...]]:
    """Every time zone as a ready ``<option>``, built once per process."""
    names = time_zone_choices()
    index = {value: i for i, (value, _label) in enumerate(names)}
    options = tuple(
        f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in names
    )
    return index, options


class TimeZoneSelect(forms.Select):
    """The ~600 time zones as one ``<select>``, without a template per option.

    Django renders each option of a Select through a template, which made the
    profile page spend most of its time on this one field. The options are
    fixed for the life of the process, so they are escaped once and only the
    chosen one is marked on each render.
    """

    def render(self, name, value, attrs=None, renderer=None):
        index, options = _time_zone_options()
        chosen = index.get(str(value) if value is not None else "")
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        parts = list(options)
        if chosen is not None:
            parts[chosen] = parts[chosen].replace("<option ", "<option selected ", 1)
        # flatatt escapes the attributes; every option was escaped when built.
        return mark_safe(f"<select{flatatt(final)}>{''.join(parts)}</select>")  # noqa: S308


class TimeZoneField(forms.ChoiceField):
    widget = TimeZoneSelect

    def valid_value(self, value) -> bool:
        return str(value) in _time_zone_options()[0]


class ProfileForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("As my browser asks"))] + LANGUAGE_CHOICES,
        required=False,
        help_text=_("Pages, reminders and your calendar feed use this language."),
    )
    time_zone = TimeZoneField(label=_("Time zone"), choices=time_zone_choices)
    lead_times = LeadTimesField(
        label=_("Remind me before a shift"),
        required=False,
        help_text=_("Comma-separated, for example 24h, 1h. Empty means 24h, 1h."),
    )

    class Meta:
        model = Profile
        fields = [
            "language",
            "time_zone",
            "email_enabled",
            "webhook_enabled",
            "webhook_url",
            "lead_times",
            "quiet_start",
            "quiet_end",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}),
            "webhook_url": forms.URLInput(attrs={"placeholder": "https://hooks.example.com/…"}),
        }
        help_texts = {
            "quiet_start": _("Non-urgent reminders wait until quiet hours end."),
            "quiet_end": _("Shift reminders are sent even in quiet hours."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.lead_times:
            self.initial["lead_times"] = DEFAULT_LEAD_TIMES

    def clean_webhook_url(self):
        url = self.cleaned_data["webhook_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("A webhook URL starts with http:// or https://."))
        return url

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (start is None) != (end is None):
            self.add_error(
                "quiet_end" if start else "quiet_start",
                _("Set both ends of the quiet hours, or neither."),
            )
        if data.get("webhook_enabled") and not data.get("webhook_url"):
            self.add_error("webhook_url", _("Webhook reminders need a webhook URL."))
        return data


class TeamSettingsForm(forms.ModelForm):
    """What a team's leads set for it: who to page when no runbook answers, and
    how long a reverse-shadow trainee has before the primary hears of a page."""

    class Meta:
        model = Team
        fields = ["escalation_note", "escalation_delay"]
        widgets = {"escalation_note": forms.Textarea(attrs={"rows": 5})}

    def clean_escalation_note(self) -> str:
        note = self.cleaned_data["escalation_note"]
        try:
            check_text(note, name=str(_("The escalation note")))
        except TextRefused as e:
            raise forms.ValidationError(str(e)) from e
        return note
