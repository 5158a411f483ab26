"""Alerts: where they come from (AlertSource) and each time one fired (AlertOccurrence).

An occurrence is keyed by the source that sent it, Alertmanager's fingerprint
(a hash of the alert's labels) and ``startsAt``: Alertmanager repeats a group
every ``group_interval``/``repeat_interval`` and retries on errors, and each
copy carries the same pair, so a unique constraint on the three makes every
re-delivery an update, never a second row. The source is part of the key so
that teams stay apart: one team's token can neither resolve another team's
occurrence nor claim a fingerprint before the other team's alert arrives.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oncall.runbooks.models import Runbook
from oncall.teams.models import Team

TOKEN_PREFIX = "oncall_am"  # noqa: S105 - a public prefix, not a secret
# Prometheus stamps an alert when its rule begins to fire: no real alert
# starts ahead of the clock by more than the skew between machines. The
# receiver refuses times further ahead, and pages count alerts up to it.
AHEAD_OF_NOW = timedelta(days=1)


def hash_secret(secret: str) -> str:
    # The secret is 32 random bytes: a plain SHA-256 is enough (no password
    # stretching needed), and lets the check run in microseconds during a storm.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``oncall_am_<key>_<secret>`` -> (key, secret); None when it has another shape."""
    if not token.startswith(TOKEN_PREFIX + "_"):
        return None
    key, sep, secret = token[len(TOKEN_PREFIX) + 1 :].partition("_")
    if not sep or not key or not secret or len(key) > 16 or len(secret) > 100:
        return None
    return key, secret


class AlertSourceQuerySet(models.QuerySet):
    def active(self) -> AlertSourceQuerySet:
        return self.filter(revoked_at__isnull=True)


class AlertSource(models.Model):
    """A sender of alerts (an Alertmanager) for a team, holding a bearer token.

    The token is ``oncall_am_<key>_<secret>``: the key (not secret) finds the
    row, the secret is stored only as a hash and compared in constant time.

    A source files alerts under its own team. A ``team`` label naming another
    team is followed only when that team is one of ``other_teams``, which a
    lead of both teams (or staff) sets; otherwise it is ignored, and the
    receiver says so.
    """

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="alert_sources", verbose_name=_("team")
    )
    other_teams = models.ManyToManyField(
        Team,
        blank=True,
        related_name="guest_alert_sources",
        verbose_name=_("may also file for"),
        help_text=_(
            "Teams whose slug this source's alerts may name in a team label; "
            "any other team label is ignored."
        ),
    )
    name = models.CharField(_("name"), max_length=100)
    # The team's own Alertmanager: drills post their alerts there (labelled
    # ``oncall_drill``) so they come back through its routes like real ones.
    alertmanager_url = models.URLField(
        _("Alertmanager URL"),
        blank=True,
        db_default="",
        help_text=_(
            "Optional. Drills post their alerts to this Alertmanager's API, so they "
            "take the same routes as real alerts; see the docs for the route that "
            "keeps them from the real pager."
        ),
    )
    key = models.CharField(max_length=16, unique=True, editable=False, verbose_name=_("key"))
    secret_hash = models.CharField(max_length=64, editable=False, verbose_name=_("secret hash"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last delivery"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    objects = AlertSourceQuerySet.as_manager()

    class Meta:
        ordering = ["team", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=Q(revoked_at__isnull=True),
                name="alertsource_unique_active_name",
            )
        ]
        verbose_name = _("alert source")
        verbose_name_plural = _("alert sources")

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def set_new_token(self) -> str:
        """Give the source a fresh token and return it: the only time it is seen in full."""
        self.key = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self.secret_hash = hash_secret(secret)
        return f"{TOKEN_PREFIX}_{self.key}_{secret}"

    def check_secret(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def revoke(self, *, by=None) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.revoked_by = by
            self.save(update_fields=["revoked_at", "revoked_by"])

    @classmethod
    def for_token(cls, token: str) -> AlertSource | None:
        """The active source this token belongs to, or None (unknown, wrong or revoked)."""
        parts = split_token(token)
        if parts is None:
            return None
        key, secret = parts
        source = cls.objects.select_related("team").filter(key=key).first()
        if source is None:
            # Spend the same hashing work as for a known key.
            hmac.compare_digest("0" * 64, hash_secret(secret))
            return None
        if not source.check_secret(secret) or source.is_revoked:
            return None
        return source


class AlertOccurrence(models.Model):
    """One alert firing once: from ``startsAt`` until it resolves."""

    class Status(models.TextChoices):
        FIRING = "firing", _("firing")
        RESOLVED = "resolved", _("resolved")

    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    starts_at = models.DateTimeField(_("started"))
    ends_at = models.DateTimeField(_("ended"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="alert_occurrences", verbose_name=_("team")
    )
    source = models.ForeignKey(
        AlertSource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="occurrences",
        verbose_name=_("source"),
    )
    alertname = models.CharField(_("alert"), max_length=200)
    alert_key = models.CharField(
        max_length=200, verbose_name=_("alert key")
    )  # lower-cased, for coverage
    labels = models.JSONField(default=dict, blank=True, verbose_name=_("labels"))
    annotations = models.JSONField(default=dict, blank=True, verbose_name=_("annotations"))
    generator_url = models.CharField(max_length=2000, blank=True, verbose_name=_("generator url"))
    # What the receiver resolved when the alert arrived (what the trainee saw):
    # the runbook when exactly one answers it, and how many answered.
    runbook = models.ForeignKey(
        Runbook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("runbook"),
    )
    runbook_count = models.PositiveSmallIntegerField(default=0, verbose_name=_("runbook count"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last delivery"), default=timezone.now)
    deliveries = models.PositiveIntegerField(default=1, verbose_name=_("deliveries"))

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "fingerprint", "starts_at"],
                name="alertoccurrence_unique_source_fingerprint_start",
            )
        ]
        indexes = [
            models.Index(fields=["team", "starts_at"], name="alertocc_team_start"),
            models.Index(fields=["team", "alert_key"], name="alertocc_team_key"),
        ]
        verbose_name = _("alert occurrence")
        verbose_name_plural = _("alert occurrences")

    def __str__(self) -> str:
        return gettext("%(alert)s %(status)s since %(when)s") % {
            "alert": self.alertname,
            "status": self.get_status_display(),
            "when": f"{self.starts_at:%Y-%m-%d %H:%M}",
        }

    @property
    def is_firing(self) -> bool:
        return self.status == self.Status.FIRING

    @property
    def summary(self) -> str:
        return str(self.annotations.get("summary", "") or self.annotations.get("message", ""))

    @property
    def description(self) -> str:
        return str(self.annotations.get("description", ""))

    @property
    def service(self) -> str:
        return str(self.labels.get("service", ""))

    @property
    def severity(self) -> str:
        return str(self.labels.get("severity", ""))

    def duration(self, now=None):
        return (self.ends_at or now or timezone.now()) - self.starts_at

    def runbook_path(self) -> str:
        """Where "open the runbook" leads: the runbook, or the alert's choice page."""
        if self.runbook_id is not None:
            return self.runbook.get_absolute_url()
        if self.runbook_count > 1:
            return alert_url(self.alertname, team=self.team.slug, service=self.service)
        return ""


def alert_url(alertname: str, *, team: str = "", service: str = "") -> str:
    query = urlencode({k: v for k, v in (("team", team), ("service", service)) if v})
    return f"/runbooks/alert/{quote(alertname, safe='')}" + (f"?{query}" if query else "")
