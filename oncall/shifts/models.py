import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oncall.runbooks.models import Runbook
from oncall.teams.access import teams_of
from oncall.teams.models import Team


class ShadowShiftQuerySet(models.QuerySet):
    """The questions other apps ask about shifts (reminders, readiness)."""

    def involving(self, user) -> "ShadowShiftQuerySet":
        """Shifts where ``user`` is the trainee or the primary."""
        return self.filter(models.Q(trainee=user) | models.Q(primary=user))

    def visible_to(self, user) -> "ShadowShiftQuerySet":
        """Shifts ``user`` may see: their team's as a member, their own as trainee, or staff.

        Being the primary gives no access of its own: a primary removed from
        the team no longer opens its shifts (the rule is in teams/access.py).
        """
        if user.is_staff:
            return self
        return self.filter(models.Q(trainee=user) | models.Q(team__in=teams_of(user)))

    def upcoming(self, now: datetime | None = None) -> "ShadowShiftQuerySet":
        """Scheduled shifts that have not ended yet (including one on now)."""
        return self.filter(state=ShadowShift.State.SCHEDULED, ends_at__gt=now or timezone.now())

    def on_now(self, now: datetime | None = None) -> "ShadowShiftQuerySet":
        """Shifts going on at ``now``, confirmed or not: a shift is on from its
        start to its end whatever the primary has said about it."""
        now = now or timezone.now()
        return self.exclude(state=ShadowShift.State.CANCELLED).filter(
            starts_at__lte=now, ends_at__gt=now
        )

    def current(self, now: datetime | None = None) -> "ShadowShiftQuerySet":
        """Shifts on now or still to come (not cancelled): what "Coming up" lists."""
        return self.exclude(state=ShadowShift.State.CANCELLED).filter(
            ends_at__gt=now or timezone.now()
        )

    def debrief_due(
        self, now: datetime | None = None, *, grace: timedelta = timedelta(hours=2)
    ) -> "ShadowShiftQuerySet":
        """Not cancelled, ended at least ``grace`` ago, and nobody wrote the debrief."""
        return self.exclude(state=ShadowShift.State.CANCELLED).filter(
            ends_at__lte=(now or timezone.now()) - grace, debriefed_at__isnull=True
        )


class ShadowShift(models.Model):
    class Kind(models.TextChoices):
        SHADOW = "shadow", _("shadow")
        REVERSE_SHADOW = "reverse_shadow", _("reverse shadow")

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("uid"))
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="shifts", verbose_name=_("team")
    )
    trainee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shifts_as_trainee",
        verbose_name=_("trainee"),
    )
    primary = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shifts_as_primary",
        verbose_name=_("primary"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.SHADOW)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    time_zone = models.CharField(_("entered in time zone"), max_length=64, default="UTC")
    state = models.CharField(_("state"), max_length=20, choices=State, default=State.SCHEDULED)
    series = models.UUIDField(null=True, blank=True, db_index=True, verbose_name=_("series"))
    sequence = models.PositiveIntegerField(default=0, verbose_name=_("sequence"))

    debrief_pages_seen = models.TextField(_("pages seen"), blank=True)
    debrief_made_sense = models.TextField(_("what made sense"), blank=True)
    debrief_open_questions = models.TextField(_("open questions"), blank=True)
    debrief_runbook_gaps = models.TextField(_("runbooks missing or wrong"), blank=True)
    debrief_runbooks = models.ManyToManyField(Runbook, blank=True, related_name="debriefs")
    debriefed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("debriefed at"))

    # The primary's part of the debrief: an answer to each open question, the
    # runbooks to fix, and whether the trainee is ready for reverse shadowing.
    class Readiness(models.TextChoices):
        YES = "yes", _("yes")
        NOT_YET = "not_yet", _("not yet")

    debrief_answers = models.JSONField(_("answers"), default=list, blank=True)
    debrief_runbooks_to_fix = models.TextField(_("runbooks to fix"), blank=True)
    debrief_ready_for_reverse = models.CharField(
        _("ready for reverse shadow"), max_length=10, choices=Readiness, blank=True
    )
    debrief_ready_reason = models.TextField(_("why not yet"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    # Who vouches that the shift happened: the primary or a lead confirms it
    # (only then does it count toward readiness); the trainee may record
    # having attended, which waits for that confirmation.
    attended_at = models.DateTimeField(_("trainee recorded attending"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    objects = ShadowShiftQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["team", "starts_at"]),
            models.Index(fields=["trainee", "starts_at"]),
            models.Index(fields=["primary", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~models.Q(trainee=F("primary")), name="shift_trainee_is_not_primary"
            ),
        ]
        verbose_name = _("shadow shift")
        verbose_name_plural = _("shadow shifts")

    def __str__(self) -> str:
        return gettext("%(kind)s %(trainee)s with %(primary)s at %(when)s") % {
            "kind": self.get_kind_display(),
            "trainee": self.trainee,
            "primary": self.primary,
            "when": self.starts_at,
        }

    def get_absolute_url(self) -> str:
        return reverse("shifts:detail", args=[self.pk])

    @property
    def has_debrief(self) -> bool:
        return self.debriefed_at is not None

    @property
    def is_cancelled(self) -> bool:
        return self.state == self.State.CANCELLED

    def has_started(self, now: datetime | None = None) -> bool:
        return self.starts_at <= (now or timezone.now())

    def has_ended(self, now: datetime | None = None) -> bool:
        return self.ends_at <= (now or timezone.now())

    def is_on_now(self, now: datetime | None = None) -> bool:
        """On from its start to its end, whether or not it is confirmed yet."""
        return not self.is_cancelled and self.has_started(now) and not self.has_ended(now)

    def can_mark_done(self, now: datetime | None = None) -> bool:
        """A scheduled shift can be confirmed from its start (it stays on until its end)."""
        return self.state == self.State.SCHEDULED and self.has_started(now)

    def may_confirm(self, user, *, lead: bool) -> bool:
        """The primary or a lead vouches that a shift happened; never the trainee alone."""
        return user.pk != self.trainee_id and (lead or user.pk == self.primary_id)

    @property
    def awaiting_confirmation(self) -> bool:
        return self.state == self.State.SCHEDULED and self.attended_at is not None

    def can_debrief(self, now: datetime | None = None) -> bool:
        return not self.is_cancelled and self.has_started(now)

    def is_debrief_due(self, now: datetime | None = None) -> bool:
        return not self.is_cancelled and not self.has_debrief and self.has_ended(now)

    @property
    def is_editable(self) -> bool:
        return self.state == self.State.SCHEDULED

    def _bump(self, **changes) -> None:
        for field, value in changes.items():
            setattr(self, field, value)
        self.sequence += 1
        self.updated_at = timezone.now()
        self.save(update_fields=[*changes, "sequence", "updated_at"])

    def mark_done(self, *, by) -> None:
        """Confirmed as done by ``by`` (the primary or a lead): now it counts."""
        self._bump(state=self.State.DONE, confirmed_by=by, confirmed_at=timezone.now())

    def record_attendance(self) -> None:
        """The trainee says they were there; it waits for the primary to confirm."""
        self.attended_at = timezone.now()
        self.save(update_fields=["attended_at"])

    def cancel(self) -> None:
        self._bump(state=self.State.CANCELLED)
        self.book()

    def book(self) -> None:
        """Make the shift's bookings match it: one per person while it is not
        cancelled. The bookings carry the database's no-overlap guarantee."""
        self.bookings.all().delete()
        if self.state != self.State.CANCELLED:
            Booking.objects.bulk_create(Booking.for_shift(self))

    def bump_sequence(self) -> None:
        """An edit made elsewhere (the admin): calendars take it when SEQUENCE goes up."""
        self._bump()

    def reschedule(self, *, starts_at: datetime, ends_at: datetime, **changes) -> None:
        """Move the shift; ``changes`` may also swap the pair, the kind or the zone."""
        allowed = {"trainee", "primary", "kind", "time_zone"}
        if set(changes) - allowed:
            raise TypeError(f"reschedule() cannot change {sorted(set(changes) - allowed)}")
        self._bump(starts_at=starts_at, ends_at=ends_at, **changes)
        self.book()

    @property
    def open_questions(self) -> list[str]:
        """The trainee's open questions, one a line ("- " bullets taken off)."""
        lines = (
            line.strip().removeprefix("- ").removeprefix("* ").strip()
            for line in self.debrief_open_questions.splitlines()
        )
        return [line for line in lines if line]

    @property
    def answered_questions(self) -> list[tuple[str, str]]:
        """Each open question with the primary's answer ("" when none yet)."""
        answers = {
            a.get("question"): a.get("answer", "")
            for a in self.debrief_answers
            if isinstance(a, dict)
        }
        return [(q, answers.get(q, "")) for q in self.open_questions]

    @property
    def awaits_answer(self) -> bool:
        return (
            self.debriefed_at is not None and bool(self.open_questions) and self.answered_at is None
        )

    def write_answer(
        self,
        *,
        by,
        answers: list[tuple[str, str]],
        runbooks_to_fix: str,
        ready_for_reverse: str,
        ready_reason: str,
    ) -> None:
        """Save the primary's part; the first save stamps ``answered_at``."""
        self.debrief_answers = [{"question": q, "answer": a} for q, a in answers]
        self.debrief_runbooks_to_fix = runbooks_to_fix
        self.debrief_ready_for_reverse = ready_for_reverse
        self.debrief_ready_reason = ready_reason
        self.answered_by = by
        self.answered_at = timezone.now()
        self.save(
            update_fields=[
                "debrief_answers",
                "debrief_runbooks_to_fix",
                "debrief_ready_for_reverse",
                "debrief_ready_reason",
                "answered_by",
                "answered_at",
            ]
        )

    def write_debrief(
        self,
        *,
        pages_seen: str,
        made_sense: str,
        open_questions: str,
        runbook_gaps: str,
        runbooks: Iterable[Runbook] = (),
    ) -> None:
        """Save the debrief; its first submission stamps ``debriefed_at``."""
        self.debrief_runbooks.set(runbooks)
        self._bump(
            debrief_pages_seen=pages_seen,
            debrief_made_sense=made_sense,
            debrief_open_questions=open_questions,
            debrief_runbook_gaps=runbook_gaps,
            debriefed_at=self.debriefed_at or timezone.now(),
        )


class ScheduleChange(models.Model):
    """A lead scheduled, moved or cancelled shifts: what the people on them are told.

    Written by the scheduling workflows in the transaction of the change;
    reminders plans one notice per person from it (never to whoever made it).
    ``before`` keeps where moved shifts were: ``{shift pk: [start, end]}``.
    """

    class What(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        MOVED = "moved", _("moved")
        CANCELLED = "cancelled", _("cancelled")

    what = models.CharField(max_length=20, choices=What, verbose_name=_("what"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("at"))
    shifts = models.ManyToManyField(ShadowShift, related_name="changes")
    people = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    before = models.JSONField(default=dict, blank=True, verbose_name=_("before"))

    class Meta:
        ordering = ["-at"]
        verbose_name = _("schedule change")
        verbose_name_plural = _("schedule changes")

    def __str__(self) -> str:
        return gettext("%(what)s by %(by)s at %(when)s") % {
            "what": self.get_what_display(),
            "by": self.by,
            "when": f"{self.at:%Y-%m-%d %H:%M}",
        }


class FlagsDismissed(models.Model):
    """The owner of a runbook (or a lead) dealt with what debriefs flagged in it.

    Flags raised before ``at`` no longer show; a new revision synced clears
    them the same way (``flags.open_flags``).
    """

    runbook = models.ForeignKey(
        Runbook, on_delete=models.CASCADE, related_name="+", verbose_name=_("runbook")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["runbook", "at"])]
        verbose_name = _("flags dismissed")
        verbose_name_plural = _("flags dismisseds")

    def __str__(self) -> str:
        return gettext("flags on %(runbook)s dismissed at %(when)s") % {
            "runbook": self.runbook,
            "when": f"{self.at:%Y-%m-%d %H:%M}",
        }


class Booking(models.Model):
    """One person's time taken by a shift, as trainee or as primary.

    Nobody can be in two shifts at once, in either role. The scheduling
    workflows check that inside their write transaction (on SQLite, whose
    IMMEDIATE transactions already serialise writers, that is the guarantee);
    on PostgreSQL an exclusion constraint on (person, time range) makes two
    clashing saves racing each other fail at the database (migration 0003).
    """

    shift = models.ForeignKey(
        ShadowShift, on_delete=models.CASCADE, related_name="bookings", verbose_name=_("shift")
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("person"),
    )
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))

    class Meta:
        indexes = [models.Index(fields=["person", "starts_at"])]
        constraints = [
            models.UniqueConstraint(fields=["shift", "person"], name="booking_once_per_shift"),
        ]
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")

    def __str__(self) -> str:
        return gettext("%(person)s booked %(start)s–%(end)s UTC") % {
            "person": self.person,
            "start": f"{self.starts_at:%Y-%m-%d %H:%M}",
            "end": f"{self.ends_at:%H:%M}",
        }

    @classmethod
    def for_shift(cls, shift: ShadowShift) -> list["Booking"]:
        return [
            cls(shift=shift, person_id=person_id, starts_at=shift.starts_at, ends_at=shift.ends_at)
            for person_id in (shift.trainee_id, shift.primary_id)
        ]
