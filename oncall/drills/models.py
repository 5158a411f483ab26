"""Drills: scenarios of past pages, drills that replay them, and responses to pages.

- A **Scenario** is a team's past outage as ordered steps (alert fired, alert
  resolved, inject) at offsets from its start, with the game master's hidden
  notes and root cause.
- A **Drill** replays a scenario to a trainee, run by a game master. Each
  step played is a **PlayedStep** row, unique per drill and step and written in
  the same transaction as the step's effect: that row is the claim that lets a
  killed worker neither lose nor double a step.
- Alerts a drill fires are **DrillPage** rows, kept apart from the real
  ``AlertOccurrence`` table so they can never count as real alerts (coverage,
  timelines, digests and ``/metrics`` read only that table).
- A **Response** is one person's response to one page: a drill's pages (one
  response per drill) or a live page on a shadow shift (one per shift and
  occurrence). Its **ResponseEvent** log is append-only.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oncall.alerts.models import AlertOccurrence
from oncall.runbooks.models import Runbook
from oncall.shifts.models import ShadowShift
from oncall.teams.models import Team

DEFAULT_ACK_TARGET = 5 * 60


class Scenario(models.Model):
    class Source(models.TextChoices):
        RECORDED = "recorded", _("recorded from history")
        FILE = "file", _("file")

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="scenarios", verbose_name=_("team")
    )
    title = models.CharField(_("title"), max_length=200)
    brief = models.TextField(_("brief for the trainee"), blank=True)
    hidden_notes = models.TextField(_("game master's notes"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    ack_target = models.PositiveIntegerField(
        _("acknowledge target (seconds)"),
        default=DEFAULT_ACK_TARGET,
        validators=[MaxValueValidator(24 * 60 * 60)],
    )
    expected_runbooks = models.ManyToManyField(
        Runbook, blank=True, related_name="+", verbose_name=_("expected runbooks")
    )
    source = models.CharField(_("source"), max_length=10, choices=Source, default=Source.RECORDED)
    source_path = models.CharField(_("source path"), max_length=500, blank=True)
    source_revision = models.CharField(_("source revision"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["team", "title", "id"]
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("drills:scenario", args=[self.team.slug, self.pk])

    def has_alert(self) -> bool:
        return self.steps.filter(kind=ScenarioStep.Kind.FIRED).exists()


class ScenarioStep(models.Model):
    class Kind(models.TextChoices):
        FIRED = "fired", _("alert fired")
        RESOLVED = "resolved", _("alert resolved")
        INJECT = "inject", _("inject")

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="steps", verbose_name=_("scenario")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    offset = models.PositiveIntegerField(
        _("offset (seconds)"), validators=[MaxValueValidator(24 * 60 * 60)]
    )
    alertname = models.CharField(_("alert"), max_length=200, blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    text = models.TextField(_("inject text"), blank=True)
    # The runbook the resolver found for the alert when it really fired.
    runbook = models.ForeignKey(
        Runbook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("runbook"),
    )

    class Meta:
        ordering = ["scenario", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "position"], name="scenariostep_unique_position"
            ),
            models.CheckConstraint(
                condition=Q(offset__lte=24 * 60 * 60), name="scenariostep_offset_within_a_day"
            ),
        ]
        verbose_name = _("scenario step")
        verbose_name_plural = _("scenario steps")

    def __str__(self) -> str:
        return f"+{self.offset}s {self.kind} {self.alertname or self.text[:40]}"

    @property
    def is_alert(self) -> bool:
        return self.kind in (self.Kind.FIRED, self.Kind.RESOLVED)

    def alert_identity(self) -> tuple:
        """What pairs a resolved step with the fired step it ends: the alert's labels."""
        return tuple(sorted({**self.labels, "alertname": self.alertname}.items()))


class DrillQuerySet(models.QuerySet):
    def visible_to(self, user) -> DrillQuerySet:
        """Drills ``user`` may open: their own as trainee, those they run, their teams' as lead."""
        if user.is_staff:
            return self
        from_lead = Q(
            team__memberships__user=user,
            team__memberships__role="lead",
        )
        return self.filter(Q(trainee=user) | Q(game_master=user) | from_lead).distinct()


class Drill(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        RUNNING = "running", _("running")
        ENDED = "ended", _("ended")
        GRADED = "graded", _("graded")
        CANCELLED = "cancelled", _("cancelled")

    class Grade(models.TextChoices):
        PASS = "pass", _("pass")
        NOT_YET = "not_yet", _("not yet")

    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="drills", verbose_name=_("scenario")
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="drills", verbose_name=_("team")
    )
    trainee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="drills_as_trainee",
        verbose_name=_("trainee"),
    )
    game_master = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="drills_as_game_master",
        verbose_name=_("game master"),
    )
    scheduled_at = models.DateTimeField(_("scheduled for"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.SCHEDULED)
    grade = models.CharField(_("grade"), max_length=10, choices=Grade, blank=True)
    grade_reason = models.TextField(_("reason"), blank=True)
    root_cause_named = models.BooleanField(_("root cause named"), null=True, blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("graded by"),
    )
    graded_at = models.DateTimeField(_("graded"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = DrillQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [models.Index(fields=["state", "scheduled_at"], name="drill_state_scheduled")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(trainee=models.F("game_master")),
                name="drill_game_master_is_not_the_trainee",
            )
        ]
        verbose_name = _("drill")
        verbose_name_plural = _("drills")

    def __str__(self) -> str:
        return f"{self.scenario.title} · {self.trainee}"

    def get_absolute_url(self) -> str:
        return reverse("drills:console", args=[self.pk])

    @property
    def is_over(self) -> bool:
        return self.state in (self.State.ENDED, self.State.GRADED, self.State.CANCELLED)

    @property
    def is_running(self) -> bool:
        return self.state == self.State.RUNNING

    def offset_now(self, now=None) -> int:
        """Seconds since the drill started (0 before it starts)."""
        if self.started_at is None:
            return 0
        return max(
            0, int(((self.ended_at or now or timezone.now()) - self.started_at).total_seconds())
        )

    def planned_at(self, step: ScenarioStep):
        return self.started_at + timedelta(seconds=step.offset) if self.started_at else None


class PlayedStep(models.Model):
    """The claim on one step of one drill: written with the step's effect, never twice."""

    drill = models.ForeignKey(
        Drill, on_delete=models.CASCADE, related_name="played", verbose_name=_("drill")
    )
    step = models.ForeignKey(
        ScenarioStep, on_delete=models.CASCADE, related_name="+", verbose_name=_("step")
    )
    planned_at = models.DateTimeField(_("planned"))
    played_at = models.DateTimeField(_("played"), default=timezone.now)
    by_hand = models.BooleanField(_("released by hand"), default=False)

    class Meta:
        ordering = ["drill", "planned_at", "step"]
        constraints = [
            models.UniqueConstraint(fields=["drill", "step"], name="playedstep_once_per_drill")
        ]
        verbose_name = _("played step")
        verbose_name_plural = _("played steps")

    def __str__(self) -> str:
        return f"drill {self.drill_id} step {self.step_id}"


class DrillPage(models.Model):
    """An alert a drill fired: what the trainee's console shows as a page.

    The fields mirror ``AlertOccurrence`` so the console shows the same card
    as a live page.
    """

    drill = models.ForeignKey(
        Drill, on_delete=models.CASCADE, related_name="pages", verbose_name=_("drill")
    )
    step = models.ForeignKey(
        ScenarioStep, on_delete=models.CASCADE, related_name="+", verbose_name=_("step")
    )
    alertname = models.CharField(_("alert"), max_length=200)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    runbook = models.ForeignKey(
        Runbook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("runbook"),
    )
    fired_at = models.DateTimeField(_("fired"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # Set when the page came back through the team's Alertmanager (its
    # fingerprint there); empty when the replay fed the page directly.
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True, db_default="")

    class Meta:
        ordering = ["drill", "fired_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["drill", "step"], name="drillpage_once_per_step")
        ]
        verbose_name = _("drill page")
        verbose_name_plural = _("drill pages")

    def __str__(self) -> str:
        return self.alertname

    @property
    def is_firing(self) -> bool:
        return self.resolved_at is None

    @property
    def summary(self) -> str:
        return str(self.annotations.get("summary", "") or self.annotations.get("message", ""))

    @property
    def description(self) -> str:
        return str(self.annotations.get("description", ""))

    @property
    def severity(self) -> str:
        return str(self.labels.get("severity", ""))

    def shown_labels(self) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.labels.items() if k != "alertname")


class Response(models.Model):
    """One person's response to a page: a drill's pages, or one live page on a shift.

    Exactly one of ``drill`` and ``occurrence`` is set. For a live page the
    shift's primary adds their own account and marks the response.
    """

    class EndChoice(models.TextChoices):
        MITIGATED = "mitigated", _("mitigated")
        ESCALATE = "escalate", _("would escalate")

    class Mark(models.TextChoices):
        HANDLED_WELL = "handled_well", _("handled well")
        NEEDS_WORK = "needs_work", _("needs work")

    responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="responses",
        verbose_name=_("responder"),
    )
    drill = models.OneToOneField(
        Drill,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="response",
        verbose_name=_("drill"),
    )
    occurrence = models.ForeignKey(
        AlertOccurrence,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="responses",
        verbose_name=_("live page"),
    )
    shift = models.ForeignKey(
        ShadowShift,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="responses",
        verbose_name=_("shift"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    hypothesis = models.TextField(_("hypothesis"), blank=True)
    end_choice = models.CharField(_("end"), max_length=10, choices=EndChoice, blank=True)
    end_text = models.TextField(_("end note"), blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    # Live pages: the primary's own account and their mark on this response.
    primary_account = models.TextField(_("what the primary did"), blank=True)
    mark = models.CharField(_("mark"), max_length=12, choices=Mark, blank=True)
    mark_note = models.TextField(_("mark note"), blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("marked by"),
    )
    marked_at = models.DateTimeField(_("marked"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(drill__isnull=False) & Q(occurrence__isnull=True))
                | (Q(drill__isnull=True) & Q(occurrence__isnull=False)),
                name="response_drill_or_live_page",
            ),
            models.UniqueConstraint(
                fields=["shift", "occurrence", "responder"],
                condition=Q(occurrence__isnull=False),
                name="response_once_per_live_page",
            ),
        ]
        verbose_name = _("response")
        verbose_name_plural = _("responses")

    def __str__(self) -> str:
        return f"{self.responder} · {self.drill_id or self.occurrence_id}"


class ResponseEvent(models.Model):
    """One entry of a response's log. Rows are only ever added."""

    class Kind(models.TextChoices):
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RUNBOOK_OPENED = "runbook_opened", _("runbook opened")
        NOTE = "note", _("note")
        HYPOTHESIS = "hypothesis", _("hypothesis")
        INJECT_RELEASED = "inject_released", _("inject released")
        ENDED = "ended", _("ended")

    response = models.ForeignKey(
        Response, on_delete=models.CASCADE, related_name="events", verbose_name=_("response")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind)
    at = models.DateTimeField(_("at"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    text = models.TextField(_("text"), blank=True)
    runbook = models.ForeignKey(
        Runbook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("runbook"),
    )
    step = models.ForeignKey(
        ScenarioStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("step"),
    )

    class Meta:
        ordering = ["response", "at", "id"]
        verbose_name = _("response event")
        verbose_name_plural = _("response events")

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}"
