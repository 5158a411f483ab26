from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.shifts.schedule import find_clash, plan_moves, this_and_following
from oncall.shifts.series import (
    MAX_SHIFT,
    MAX_WEEKS,
    AmbiguousLocalTime,
    Fold,
    NonexistentLocalTime,
    Occurrence,
    Repeat,
    expand,
    first_self_overlap,
    format_offset,
)
from oncall.teams.dates import format_date, format_span
from oncall.teams.forms import BoundedModelMultipleChoiceField
from oncall.teams.models import Team, time_zone_choices
from oncall.teams.people import display_name


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return display_name(obj)


# Onboarding states, by name: shifts sits below readiness and reads its rows
# through the reverse relation without importing it.
STILL_ONBOARDING = ("in_progress", "ready")


def pickers(team: Team, *, keep_primary: int | None = None):
    """The people a lead picks from: trainees and primaries, both team members only.

    1. Trainees: people onboarding in this team first (the ones who need
       shifts), then the other members.
    2. Primaries: members not onboarding in this team (cleared, or never
       onboarded here: the experienced engineers), and the shift's current
       primary when editing (``keep_primary``), so an edit never loses them.
    """
    members = team.members.annotate(
        onboarding_here=Exists(
            team.onboardings.filter(engineer=OuterRef("pk"), state__in=STILL_ONBOARDING)
        )
    )
    trainees = members.order_by("-onboarding_here", "first_name", "last_name", "username")
    primaries = members.filter(Q(onboarding_here=False) | Q(pk=keep_primary)).order_by(
        "first_name", "last_name", "username"
    )
    return trainees, primaries


def _wall(local: datetime) -> str:
    return format_date(local, "wall")


class ShiftTimesForm(forms.Form):
    """The pair, the kind and the local wall times, validated together.

    ``clean()`` turns the wall times into UTC occurrences (``self.occurrences``)
    and checks everything DESIGN.md asks of a shift: end after start, at most
    7 days, trainee not their own primary, no clash, no wall time lost in a
    DST gap, and a choice when a wall time happens twice.
    """

    trainee = PersonChoiceField(
        label=gettext_lazy("Trainee"),
        queryset=None,
        error_messages={"invalid_choice": gettext_lazy("Pick a member of this team.")},
    )
    primary = PersonChoiceField(
        label=gettext_lazy("Primary"),
        queryset=None,
        error_messages={
            "invalid_choice": gettext_lazy(
                "Pick a member of this team who is not onboarding here: a primary is on call already."
            )
        },
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=ShadowShift.Kind.choices,
        widget=forms.RadioSelect,
        initial=ShadowShift.Kind.SHADOW,
    )
    starts_on = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    start_time = forms.TimeField(
        label=gettext_lazy("Starts at"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    end_time = forms.TimeField(
        label=gettext_lazy("Ends at"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy(
            "Leave empty for a shift that ends the same day, or the next morning "
            "when the end is before the start (22:00–06:00)."
        ),
    )
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=time_zone_choices)
    fold = forms.ChoiceField(
        label=gettext_lazy("This time happens twice that day: which one?"),
        choices=Fold.choices,
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, team: Team, keep_primary: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        trainees, primaries = pickers(team, keep_primary=keep_primary)
        self.fields["trainee"].queryset = trainees
        self.fields["primary"].queryset = primaries
        self.fields["time_zone"].initial = team.time_zone
        self.needs_fold = False
        self.occurrences: list[Occurrence] = []

    # Subclasses say which dates and which existing shifts are involved.
    def expand_occurrences(self, data: dict, tz: ZoneInfo, fold: int | None) -> list[Occurrence]:
        raise TypeError("a ShiftTimesForm subclass expands its own occurrences")

    def excluded_shift_ids(self) -> list[int]:
        return []

    def _clean_day(self, name: str):
        day = self.cleaned_data.get(name)
        if day is not None and not 2000 <= day.year <= 2999:
            raise forms.ValidationError(_("Pick a date between the years 2000 and 2999."))
        return day

    def clean_starts_on(self):
        return self._clean_day("starts_on")

    def clean_ends_on(self):
        return self._clean_day("ends_on")

    def end_days(self, data: dict) -> int | None:
        if data.get("ends_on") is None:
            return None
        return (data["ends_on"] - data["starts_on"]).days

    def clean(self) -> dict:
        data = super().clean()
        trainee, primary = data.get("trainee"), data.get("primary")
        if trainee and primary and trainee == primary:
            self.add_error("primary", _("A trainee cannot shadow themself: pick someone else."))
        needed = ("starts_on", "start_time", "end_time", "time_zone")
        if any(data.get(name) is None for name in needed):
            return data
        if data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", _("The shift must end after it starts."))
            return data
        tz = ZoneInfo(data["time_zone"])
        fold = int(data["fold"]) if data.get("fold") in ("0", "1") else None
        try:
            occurrences = self._expand_with_fold(data, tz, fold)
        except NonexistentLocalTime as e:
            field = "start_time" if e.which == "start" else "end_time"
            self.add_error(
                field,
                _(
                    "%(wall)s does not exist in %(zone)s: the clocks jump forward over it. "
                    "Pick another time."
                )
                % {"wall": _wall(e.local), "zone": e.zone},
            )
            return data
        except AmbiguousLocalTime as e:
            field = "start_time" if e.which == "start" else "end_time"
            self.add_error(
                field,
                _(
                    "%(wall)s happens twice in %(zone)s (the clocks go back). "
                    "Choose which one below."
                )
                % {"wall": _wall(e.local), "zone": e.zone},
            )
            return data
        if not occurrences:
            self.add_error("starts_on", _("This schedule makes no shifts."))
            return data
        for occurrence in occurrences:
            if occurrence.duration <= timedelta(0):
                self.add_error("end_time", _("The shift must end after it starts."))
                return data
            if occurrence.duration > MAX_SHIFT:
                self.add_error(
                    "ends_on" if data.get("ends_on") else "end_time",
                    _("A shift lasts at most 7 days."),
                )
                return data
        pair = first_self_overlap(occurrences)
        if pair:
            self.add_error(
                "end_time",
                _("The shifts of this series overlap each other (%(span)s).")
                % {"span": format_span(pair[1].starts_at, pair[1].ends_at, tz)},
            )
            return data
        if trainee and primary and trainee != primary:
            clash = find_clash(
                occurrences=occurrences,
                people=[trainee, primary],
                exclude=self.excluded_shift_ids(),
            )
            if clash:
                field = "trainee" if clash.person == trainee else "primary"
                self.add_error(field, self._clash_message(clash, tz, self.team))
                return data
        self.occurrences = occurrences
        return data

    def _expand_with_fold(self, data: dict, tz: ZoneInfo, fold: int | None) -> list[Occurrence]:
        """Expand; on an ambiguous wall time, offer the fold choice and use it if given."""
        try:
            return self.expand_occurrences(data, tz, None)
        except AmbiguousLocalTime as e:
            self.needs_fold = True
            first, second = (format_offset(offset) for offset in e.offsets)
            self.fields["fold"].choices = [
                (Fold.FIRST, _("first (%(offset)s)") % {"offset": first}),
                (Fold.SECOND, _("second (%(offset)s)") % {"offset": second}),
            ]
            if fold is None:
                raise
        return self.expand_occurrences(data, tz, fold)

    def add_clash(self, clash) -> None:
        """A clash found when saving (another lead's shift saved a moment ago)."""
        if clash is None:
            self.add_error(None, _("Someone saved a clashing shift at the same moment; try again."))
            return
        tz = ZoneInfo(self.cleaned_data.get("time_zone") or self.team.time_zone)
        trainee = self.cleaned_data.get("trainee")
        field = "trainee" if trainee is not None and clash.person == trainee else "primary"
        self.add_error(field, self._clash_message(clash, tz, self.team))

    @staticmethod
    def _clash_message(clash, tz: ZoneInfo, team) -> str:
        shift = clash.shift
        if shift.team_id != team.pk:
            # A shift of another team: say when the person is busy, not with whom.
            return _("%(person)s already has a shift in another team then: %(span)s.") % {
                "person": display_name(clash.person),
                "span": format_span(shift.starts_at, shift.ends_at, tz),
            }
        return _(
            "%(person)s already has a shift then: %(kind)s #%(pk)s, %(trainee)s with "
            "%(primary)s, %(span)s."
        ) % {
            "person": display_name(clash.person),
            "kind": shift.get_kind_display(),
            "pk": shift.pk,
            "trainee": display_name(shift.trainee),
            "primary": display_name(shift.primary),
            "span": format_span(shift.starts_at, shift.ends_at, tz),
        }


class ScheduleForm(ShiftTimesForm):
    """A single shift or a recurring series, for a lead."""

    repeat = forms.ChoiceField(
        label=gettext_lazy("Repeat"), choices=Repeat.choices, initial=Repeat.ONCE
    )
    weeks = forms.IntegerField(
        label=gettext_lazy("For how many weeks"),
        min_value=1,
        max_value=MAX_WEEKS,
        initial=1,
        required=False,
        help_text=gettext_lazy("Used when the shift repeats."),
    )

    field_order = [
        "trainee",
        "primary",
        "kind",
        "time_zone",
        "starts_on",
        "start_time",
        "end_time",
        "ends_on",
        "fold",
        "repeat",
        "weeks",
    ]

    def expand_occurrences(self, data: dict, tz: ZoneInfo, fold: int | None) -> list[Occurrence]:
        return expand(
            first=data["starts_on"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            end_days=self.end_days(data),
            tz=tz,
            repeat=data.get("repeat") or Repeat.ONCE,
            weeks=data.get("weeks") or 1,
            fold=fold,
        )


class Scope:
    THIS = "this"
    FOLLOWING = "following"


class EditForm(ShiftTimesForm):
    """Move one shift, or it and the later shifts of its series."""

    scope = forms.ChoiceField(
        label=gettext_lazy("Apply to"),
        choices=[
            (Scope.THIS, gettext_lazy("This shift")),
            (Scope.FOLLOWING, gettext_lazy("This and the following shifts of the series")),
        ],
        initial=Scope.THIS,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, shift: ShadowShift, **kwargs) -> None:
        tz = ZoneInfo(shift.time_zone)
        starts, ends = shift.starts_at.astimezone(tz), shift.ends_at.astimezone(tz)
        kwargs.setdefault(
            "initial",
            {
                "trainee": shift.trainee_id,
                "primary": shift.primary_id,
                "kind": shift.kind,
                "starts_on": starts.date(),
                "start_time": starts.time().replace(tzinfo=None),
                "end_time": ends.time().replace(tzinfo=None),
                "ends_on": ends.date() if ends.date() != starts.date() else None,
                "time_zone": shift.time_zone,
                "fold": str(starts.fold),
            },
        )
        super().__init__(*args, team=shift.team, keep_primary=shift.primary_id, **kwargs)
        self.shift = shift
        self.moves: list = []
        if shift.series is None:
            del self.fields["scope"]

    def targets(self) -> list[ShadowShift]:
        if self.cleaned_data.get("scope") == Scope.FOLLOWING:
            return this_and_following(self.shift)
        return [self.shift]

    def excluded_shift_ids(self) -> list[int]:
        return [shift.pk for shift, _occurrence in self.moves]

    def expand_occurrences(self, data: dict, tz: ZoneInfo, fold: int | None) -> list[Occurrence]:
        end_days = self.end_days(data)
        if end_days is None:
            end_days = 0 if data["end_time"] > data["start_time"] else 1
        self.moves = plan_moves(
            shifts=self.targets(),
            first_date=data["starts_on"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            end_days=end_days,
            tz=tz,
            fold=fold,
        )
        return [occurrence for _shift, occurrence in self.moves]


# A debrief answer is a few paragraphs; a page of text at most.
DEBRIEF_TEXT_MAX = 10_000


class DebriefForm(forms.Form):
    pages_seen = forms.CharField(
        max_length=DEBRIEF_TEXT_MAX,
        label=gettext_lazy("Pages seen"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Which alerts fired, and what was done about them."),
    )
    made_sense = forms.CharField(
        max_length=DEBRIEF_TEXT_MAX,
        label=gettext_lazy("What made sense"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    open_questions = forms.CharField(
        max_length=DEBRIEF_TEXT_MAX,
        label=gettext_lazy("Open questions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One a line: your primary answers each of them below."),
    )
    runbook_gaps = forms.CharField(
        max_length=DEBRIEF_TEXT_MAX,
        label=gettext_lazy("Runbooks missing or wrong"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    runbooks = BoundedModelMultipleChoiceField(
        label=gettext_lazy("Runbooks that need work"),
        queryset=Runbook.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, shift: ShadowShift, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "pages_seen": shift.debrief_pages_seen,
                "made_sense": shift.debrief_made_sense,
                "open_questions": shift.debrief_open_questions,
                "runbook_gaps": shift.debrief_runbook_gaps,
                "runbooks": [r.pk for r in shift.debrief_runbooks.all()],
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["runbooks"].queryset = Runbook.objects.filter(
            team=shift.team, archived=False
        ).order_by("title")

    def clean(self) -> dict:
        data = super().clean()
        texts = ("pages_seen", "made_sense", "open_questions", "runbook_gaps")
        if not any(data.get(name, "").strip() for name in texts) and not data.get("runbooks"):
            raise forms.ValidationError(_("Write at least one line before saving the debrief."))
        return data


class AnswerForm(forms.Form):
    """The primary's part of a debrief: one answer per open question, and a verdict."""

    runbooks_to_fix = forms.CharField(
        label=gettext_lazy("Runbooks to fix"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("What you saw missing or wrong, for the runbook's owner."),
    )
    ready_for_reverse = forms.ChoiceField(
        label=gettext_lazy("Ready for reverse shadow?"),
        choices=[("", gettext_lazy("not said"))] + list(ShadowShift.Readiness.choices),
        required=False,
        widget=forms.RadioSelect,
    )
    ready_reason = forms.CharField(
        label=gettext_lazy("Why not yet"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, shift: ShadowShift, **kwargs) -> None:
        initial = {
            "runbooks_to_fix": shift.debrief_runbooks_to_fix,
            "ready_for_reverse": shift.debrief_ready_for_reverse,
            "ready_reason": shift.debrief_ready_reason,
        }
        self.questions = shift.answered_questions
        for n, (_question, answer) in enumerate(self.questions):
            initial[f"answer_{n}"] = answer
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        for n, (question, _answer) in enumerate(self.questions):
            self.fields[f"answer_{n}"] = forms.CharField(
                label=question,
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        self.order_fields([f"answer_{n}" for n in range(len(self.questions))])

    def answer_fields(self):
        return [self[f"answer_{n}"] for n in range(len(self.questions))]

    def clean(self) -> dict:
        data = super().clean()
        if (
            data.get("ready_for_reverse") == ShadowShift.Readiness.NOT_YET
            and not (data.get("ready_reason") or "").strip()
        ):
            self.add_error(
                "ready_reason", _("Say what is still missing, so they know what to work on.")
            )
        return data

    def answers(self) -> list[tuple[str, str]]:
        return [
            (question, self.cleaned_data.get(f"answer_{n}", "").strip())
            for n, (question, _answer) in enumerate(self.questions)
        ]
