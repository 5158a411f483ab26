"""The team's real on-call rotations, read from iCalendar feeds, and the shadow plans on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oncall.rotations import parse
from oncall.rotations.errors import describe
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Team


class Rotation(models.Model):
    """A rotation of the team as another tool publishes it: a feed URL or an uploaded file."""

    class Person(models.TextChoices):
        ATTENDEE = parse.ATTENDEE, _("the attendee's email")
        ORGANIZER = parse.ORGANIZER, _("the organizer's email")
        PAGERDUTY = parse.PAGERDUTY, _("PagerDuty")
        GOALERT = parse.GOALERT, _("GoAlert")
        REGEX = parse.REGEX, _("a regular expression over the summary")

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="rotations", verbose_name=_("team")
    )
    name = models.CharField(_("name"), max_length=100)
    url = models.CharField(_("feed URL"), max_length=2000, blank=True)
    uploaded = models.TextField(_("uploaded file"), blank=True)
    person_rule = models.CharField(
        _("how an event names its person"), max_length=20, choices=Person, default=Person.ATTENDEE
    )
    person_pattern = models.CharField(_("regular expression"), max_length=200, blank=True)
    time_zone = models.CharField(_("time zone for floating times"), max_length=64, default="UTC")

    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    last_read_at = models.DateTimeField(_("last read"), null=True, blank=True)
    last_changed_at = models.DateTimeField(_("last changed"), null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="rotation_name_once_per_team"),
        ]
        verbose_name = _("rotation")
        verbose_name_plural = _("rotations")

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def rule(self) -> parse.PersonRule:
        return parse.PersonRule(self.person_rule, self.person_pattern)

    @property
    def source(self) -> str:
        return self.url or "upload"

    @property
    def error_text(self) -> str:
        return describe(self.error_code, self.error_params) if self.error_code else ""

    def is_due(self, now: datetime, every: timedelta) -> bool:
        return bool(self.url) and (self.last_read_at is None or self.last_read_at + every <= now)


class RotationShift(models.Model):
    """One shift of the rotation as last read: who holds it (if we know them), and when."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="shifts")
    key = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=200, blank=True)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["rotation", "starts_at"])]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "key"], name="rotation_shift_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.email} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def who(self) -> str:
        return self.name or self.email


class PersonLink(models.Model):
    """A lead said who a name in the team's feeds is (when no email tells)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)  # casefolded
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="person_link_once_per_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.user}"


class ShadowPlan(models.Model):
    """A trainee shadows a rotation between two dates; reconciliation keeps its shifts in step."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="plans")
    trainee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shadow_plans",
        verbose_name=_("trainee"),
    )
    kind = models.CharField(
        _("kind"), max_length=20, choices=ShadowShift.Kind, default=ShadowShift.Kind.SHADOW
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"))
    earliest_start = models.TimeField(_("only shifts starting from"), null=True, blank=True)
    latest_start = models.TimeField(_("only shifts starting until"), null=True, blank=True)
    max_shifts = models.PositiveIntegerField(_("at most this many shifts"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="shadow_plan_ends_after_start"
            ),
        ]
        verbose_name = _("shadow plan")
        verbose_name_plural = _("shadow plans")

    def __str__(self) -> str:
        return f"{self.trainee} {self.get_kind_display()} {self.rotation} {self.starts_on}–{self.ends_on}"


class PlanShift(models.Model):
    """What the plan last wrote for one rotation shift: the shadow shift, or why it was skipped.

    A shadow shift that no longer matches what the plan wrote was edited by
    hand: it is marked and the plan never touches it again.
    """

    plan = models.ForeignKey(ShadowPlan, on_delete=models.CASCADE, related_name="links")
    key = models.CharField(max_length=300)  # the rotation shift's key
    shift = models.OneToOneField(
        ShadowShift, null=True, blank=True, on_delete=models.SET_NULL, related_name="plan_link"
    )
    written_starts_at = models.DateTimeField(null=True, blank=True)
    written_ends_at = models.DateTimeField(null=True, blank=True)
    written_primary = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hand_edited = models.BooleanField(default=False)
    # No shadow shift stands for the rotation shift because it would clash
    # with this shift of the trainee or the primary (named on the page).
    clash_with = models.ForeignKey(
        ShadowShift, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clash_person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="plan_shift_once_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}:{self.key}"

    @property
    def is_skipped(self) -> bool:
        return self.shift_id is None and self.clash_with_id is not None

    def matches(self, shift: ShadowShift) -> bool:
        """The shift is still what the plan wrote."""
        return (
            shift.state == ShadowShift.State.SCHEDULED
            and shift.starts_at == self.written_starts_at
            and shift.ends_at == self.written_ends_at
            and shift.primary_id == self.written_primary_id
            and shift.trainee_id == self.plan.trainee_id
            and shift.kind == self.plan.kind
        )
