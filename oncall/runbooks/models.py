from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oncall.teams.models import Team

# The ranges a runbook's review schedule may take (the sync checks front matter
# against the same numbers, see sync.py).
REVIEW_EVERY_DAYS = (1, 3650)  # up to ten years
REVIEWED_YEARS = (2000, 2999)
# A sync still running after this long is taken for dead (see SyncRun.sweep_stuck).
SYNC_STUCK_AFTER = timedelta(minutes=15)


def validate_review_date(value: date) -> None:
    low, high = REVIEWED_YEARS
    if not low <= value.year <= high:
        raise ValidationError(
            _("Enter a date between %(low)d-01-01 and %(high)d-12-31.") % {"low": low, "high": high}
        )


class Runbook(models.Model):
    slug = models.CharField(_("slug"), max_length=255, unique=True)  # may hold "/"
    title = models.CharField(_("title"), max_length=300)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runbooks",
        verbose_name=_("team"),
    )
    service = models.CharField(_("service"), max_length=100, blank=True)
    alerts = models.JSONField(_("alerts"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    owner = models.CharField(_("owner"), max_length=150, blank=True)
    review_every = models.PositiveIntegerField(
        _("review every (days)"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(REVIEW_EVERY_DAYS[0]),
            MaxValueValidator(REVIEW_EVERY_DAYS[1]),
        ],
    )
    last_reviewed = models.DateField(
        _("last reviewed"), null=True, blank=True, validators=[validate_review_date]
    )
    source_root = models.CharField(_("source folder"), max_length=500, blank=True)
    source_path = models.CharField(_("source path"), max_length=500, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    current_revision = models.ForeignKey(
        "Revision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("current revision"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        ordering = ["title"]
        verbose_name = _("runbook")
        verbose_name_plural = _("runbooks")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("runbooks:detail", args=[self.slug])

    def review_due_on(self) -> date | None:
        """The day a review is due, or None without a schedule.

        Values stored before their ranges were checked (review_every: 4000000)
        put the date past the calendar's end: that is no schedule either, not
        an error on every page and in every planning run.
        """
        if self.review_every is None:
            return None
        if self.last_reviewed is None:
            return self.created_at.date()
        try:
            return self.last_reviewed + timedelta(days=self.review_every)
        except OverflowError:
            return None

    def is_review_overdue(self, today: date | None = None) -> bool:
        due = self.review_due_on()
        return due is not None and due < (today or timezone.localdate())

    def days_since_review(self, today: date | None = None) -> int | None:
        if self.last_reviewed is None:
            return None
        return ((today or timezone.localdate()) - self.last_reviewed).days

    @property
    def folder(self) -> str:
        """The section this runbook sits in: its slug without the last part."""
        return self.slug.rpartition("/")[0]


class AlertName(models.Model):
    """One alert a runbook answers; ``key`` is the lower-cased name for lookups."""

    runbook = models.ForeignKey(
        Runbook, on_delete=models.CASCADE, related_name="alert_names", verbose_name=_("runbook")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    key = models.CharField(max_length=200, db_index=True, verbose_name=_("key"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["runbook", "key"], name="alertname_unique_per_runbook")
        ]
        verbose_name = _("alert name")
        verbose_name_plural = _("alert names")

    def __str__(self) -> str:
        return self.name


class Revision(models.Model):
    runbook = models.ForeignKey(
        Runbook, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("runbook")
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    content_hash = models.CharField(max_length=64, verbose_name=_("content hash"))
    markdown = models.TextField(verbose_name=_("markdown"))
    html = models.TextField(verbose_name=_("html"))
    toc = models.JSONField(default=list, blank=True, verbose_name=_("toc"))
    author = models.CharField(max_length=200, blank=True, verbose_name=_("author"))
    commit = models.CharField(max_length=64, blank=True, verbose_name=_("commit"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "number"], name="revision_unique_number")
        ]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")

    def __str__(self) -> str:
        return f"{self.runbook.slug} r{self.number}"


class Section(models.Model):
    """A folder's description, from its ``_index.md``."""

    path = models.CharField(
        max_length=255, unique=True, verbose_name=_("path")
    )  # "" for the top folder
    title = models.CharField(max_length=300, verbose_name=_("title"))
    html = models.TextField(blank=True, verbose_name=_("html"))
    content_hash = models.CharField(max_length=64, blank=True, verbose_name=_("content hash"))
    source_root = models.CharField(max_length=500, blank=True, verbose_name=_("source root"))

    class Meta:
        verbose_name = _("section")
        verbose_name_plural = _("sections")

    def __str__(self) -> str:
        return self.title


class SearchDocument(models.Model):
    """What search reads for one runbook: title, alerts, tags and plain body text.

    Written by the sync next to each new revision. On SQLite an FTS5 table with
    the trigram tokenizer indexes it (kept in step by triggers, see migration
    0002); on PostgreSQL a pg_trgm GIN index over the same columns does.
    """

    runbook = models.OneToOneField(
        Runbook,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="search_document",
        verbose_name=_("runbook"),
    )
    title = models.TextField(verbose_name=_("title"))
    alerts = models.TextField(blank=True, verbose_name=_("alerts"))  # alert names, one per line
    tags = models.TextField(blank=True, verbose_name=_("tags"))  # tags, one per line
    body = models.TextField(blank=True, verbose_name=_("body"))

    class Meta:
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")

    def __str__(self) -> str:
        return self.title


class SearchTerm(models.Model):
    """One character, or two standing together, of Japanese (CJK) text in a search document.

    Japanese has no spaces between words, and the trigram indexes cannot
    answer a word of one or two characters (期限, 障害) without reading every
    document. This table can, on both engines: each run of CJK characters
    gives its characters and its overlapping pairs, once per runbook, with
    where they stand (``found_in``, a sum of TITLE, ALERTS, TAGS and BODY).
    Written by the sync next to the search document (see search.cjk_terms).
    """

    TITLE, ALERTS, TAGS, BODY = 1, 2, 4, 8

    pk = models.CompositePrimaryKey("runbook_id", "term")
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="+", db_index=False)
    term = models.CharField(max_length=2)
    found_in = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [
            # Covers the lookups: a search reads only this index, never the table.
            models.Index(fields=["term", "runbook", "found_in"], name="runbooks_searchterm_term")
        ]

    def __str__(self) -> str:
        return self.term


class SyncRun(models.Model):
    """One import of runbook folders, requested from the admin (or later a webhook)."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("some files failed")

    folders = models.JSONField(
        _("folders"), default=list, blank=True, help_text=_("Empty means RUNBOOKS_DIR.")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("requested by"),
    )
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.PENDING)
    summary = models.CharField(_("summary"), max_length=200, blank=True)
    log = models.TextField(_("log"), blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("runbook sync")
        verbose_name_plural = _("runbook syncs")

    def __str__(self) -> str:
        return gettext("sync #%(pk)s (%(state)s)") % {
            "pk": self.pk,
            "state": self.get_state_display(),
        }

    def finish(self, *, state: str, summary: str, log: str) -> None:
        self.state = state
        self.summary = summary[:200]
        self.log = log
        self.finished_at = timezone.now()
        self.save(update_fields=["state", "summary", "log", "finished_at"])

    @classmethod
    def sweep_stuck(cls, *, now: datetime) -> int:
        """Fail runs that can no longer finish; return how many.

        A run still ``running`` SYNC_STUCK_AFTER after it started lost its
        worker (killed, out of memory, redeployed); one still ``pending`` that
        long after it was requested lost its message. Either way nothing will
        ever move it again, so it ends ``failed`` with the reason.
        """
        cutoff = now - SYNC_STUCK_AFTER
        minutes = int(SYNC_STUCK_AFTER.total_seconds() // 60)
        running = cls.objects.filter(state=cls.State.RUNNING, started_at__lt=cutoff).update(
            state=cls.State.FAILED,
            summary=_("stopped: no result %(minutes)d minutes after it started (worker lost)")
            % {"minutes": minutes},
            finished_at=now,
        )
        pending = cls.objects.filter(state=cls.State.PENDING, created_at__lt=cutoff).update(
            state=cls.State.FAILED,
            summary=_("never started: no worker took it within %(minutes)d minutes")
            % {"minutes": minutes},
            finished_at=now,
        )
        return running + pending
