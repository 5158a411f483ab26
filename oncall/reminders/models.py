"""Reminders: the outbox. A row is the job.

Planning (``plan.py``) upserts the rows that should exist, keyed by
``dedupe_key``; dispatch (``dispatch.py``) claims due pending rows with a
conditional UPDATE, sends them through their channel (``channels.py``) and
writes the outcome back. The database is the store of record: the broker only
carries "go and look" messages, so losing it loses nothing.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MAX_ATTEMPTS = 5


class Reminder(models.Model):
    class Kind(models.TextChoices):
        SHIFT_UPCOMING = "shift_upcoming", _("shift coming up")
        DEBRIEF_DUE = "debrief_due", _("debrief due")
        ITEM_OVERDUE = "item_overdue", _("items overdue")
        ONBOARDING_STALLED = "onboarding_stalled", _("onboarding stalled")
        REREAD_NEEDED = "reread_needed", _("runbook changed since read")
        REVIEW_DUE = "review_due", _("runbook review due")
        SIGNOFF_WITHDRAWN = "signoff_withdrawn", _("sign-off lapsed")
        SCHEDULE_CHANGED = "schedule_changed", _("shifts changed")
        DEBRIEF_ANSWERED = "debrief_answered", _("debrief answered")
        WEEKLY_DIGEST = "weekly_digest", _("weekly digest")
        LIVE_PAGE = "live_page", _("live page during a shift")
        DRILL_PAGE = "drill_page", _("drill page")
        DRILL_UPCOMING = "drill_upcoming", _("drill coming up")
        PAGE_ESCALATED = "page_escalated", _("page not acknowledged")
        TEST = "test", _("test")

    # Shift reminders go out even in quiet hours: a shift does not wait. A live
    # page is planned only while its recipient is on the shift.
    URGENT_KINDS = frozenset(
        {
            Kind.SHIFT_UPCOMING,
            Kind.TEST,
            Kind.LIVE_PAGE,
            Kind.DRILL_PAGE,
            Kind.DRILL_UPCOMING,
            Kind.PAGE_ESCALATED,
        }
    )

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        WEBHOOK = "webhook", _("webhook")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reminders",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    due_at = models.DateTimeField(_("due"))
    # When dispatch may next pick the row up: due_at at first, later the end
    # of quiet hours or the next retry after a transient failure.
    next_attempt_at = models.DateTimeField(_("next attempt"))
    dedupe_key = models.CharField(_("dedupe key"), max_length=300, unique=True)
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=32, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    payload = models.JSONField(_("structured fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["-due_at", "-id"]
        indexes = [
            # Dispatch asks "which pending rows are due?" every 30 seconds.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="reminder_pending_due",
            ),
            models.Index(fields=["state", "claimed_at"], name="reminder_state_claimed"),
            models.Index(fields=["recipient", "-due_at"], name="reminder_recipient_due"),
        ]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")

    def __str__(self) -> str:
        return gettext("%(kind)s to %(recipient)s (%(channel)s, %(state)s)") % {
            "kind": self.get_kind_display(),
            "recipient": self.recipient,
            "channel": self.get_channel_display(),
            "state": self.get_state_display(),
        }

    @property
    def is_urgent(self) -> bool:
        return self.kind in self.URGENT_KINDS

    @property
    def message_token(self) -> str:
        """Stable across retries: the Message-ID and Idempotency-Key derive from it."""
        return hashlib.sha256(self.dedupe_key.encode()).hexdigest()[:32]

    @property
    def message_id(self) -> str:
        return f"<{self.message_token}@oncall>"

    def retry_now(self) -> bool:
        """Put a failed or pending row back in line at once (admin's "retry now")."""
        changed = Reminder.objects.filter(
            pk=self.pk, state__in=[self.State.FAILED, self.State.PENDING]
        ).update(
            state=self.State.PENDING,
            next_attempt_at=timezone.now(),
            attempts=0,
            updated_at=timezone.now(),
        )
        return bool(changed)
