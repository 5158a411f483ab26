from datetime import date, timedelta

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oncall.teams.models import Team


class Runbook(models.Model):
    slug = models.CharField(_("slug"), max_length=255, unique=True)  # may hold "/"
    title = models.CharField(_("title"), max_length=300)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="runbooks"
    )
    service = models.CharField(_("service"), max_length=100, blank=True)
    alerts = models.JSONField(_("alerts"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    owner = models.CharField(_("owner"), max_length=150, blank=True)
    review_every = models.PositiveIntegerField(_("review every (days)"), null=True, blank=True)
    last_reviewed = models.DateField(_("last reviewed"), null=True, blank=True)
    source_root = models.CharField(_("source folder"), max_length=500, blank=True)
    source_path = models.CharField(_("source path"), max_length=500, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    current_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]
        verbose_name = _("runbook")
        verbose_name_plural = _("runbooks")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("runbooks:detail", args=[self.slug])

    def review_due_on(self) -> date | None:
        if self.review_every is None:
            return None
        if self.last_reviewed is None:
            return self.created_at.date()
        return self.last_reviewed + timedelta(days=self.review_every)

    def is_review_overdue(self, today: date | None = None) -> bool:
        due = self.review_due_on()
        return due is not None and due < (today or timezone.localdate())


class AlertName(models.Model):
    """One alert a runbook answers; ``key`` is the lower-cased name for lookups."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="alert_names")
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=200, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["runbook", "key"], name="alertname_unique_per_runbook")
        ]

    def __str__(self) -> str:
        return self.name


class Revision(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    markdown = models.TextField()
    html = models.TextField()
    toc = models.JSONField(default=list, blank=True)
    author = models.CharField(max_length=200, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "number"], name="revision_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.runbook.slug} r{self.number}"


class Section(models.Model):
    """A folder's description, from its ``_index.md``."""

    path = models.CharField(max_length=255, unique=True)  # "" for the top folder
    title = models.CharField(max_length=300)
    html = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    source_root = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return self.title
