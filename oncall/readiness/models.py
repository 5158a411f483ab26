"""Readiness: checklist templates, onboardings started from them, and their progress.

An onboarding copies its template's items into ``ItemProgress`` rows when it
starts (a snapshot), so editing a template later never rewrites the checklist
of someone already working through it. Whether an onboarding is ready is
decided in one place: ``oncall.readiness.gate.evaluate``.
"""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from oncall.readiness.describe import DESCRIPTION_MAX, render_description
from oncall.runbooks.models import Revision, Runbook
from oncall.teams.models import Team
from oncall.teams.people import display_name


class Kind(models.TextChoices):
    TASK = "task", _("task")
    READ_RUNBOOK = "read_runbook", _("read a runbook")
    SHADOW_SHIFT = "shadow_shift", _("shadow shifts")
    REVERSE_SHADOW_SHIFT = "reverse_shadow_shift", _("reverse-shadow shifts")
    DRILL = "drill", _("drill")
    ACCESS_CHECK = "access_check", _("access check")
    RESPOND_TO_PAGES = "respond_to_pages", _("respond to live pages")


SHIFT_KINDS = (Kind.SHADOW_SHIFT, Kind.REVERSE_SHADOW_SHIFT)
# Items done by a count of what others vouched for, never by the trainee's tick.
COUNTED_KINDS = (*SHIFT_KINDS, Kind.DRILL, Kind.RESPOND_TO_PAGES)


def progress_percent(done: int, total: int) -> int:
    """The one progress figure: required items complete over required items.

    Rounded down, so 100 % means every required item is complete and "5 of 13"
    reads 38 %, wherever it is shown (checklist, dashboard, CSV, digest).
    """
    if total <= 0:
        return 100
    return 100 * done // total


def in_reader_language(english: str, japanese: str) -> str:
    """The Japanese text for a reader whose language is Japanese, when there is
    one; otherwise the English text. Checklist text is written by leads, so it
    lives in the rows, not in the translation catalogue."""
    if japanese and (get_language() or "").split("-")[0] == "ja":
        return japanese
    return english


class ShownText:
    """What a checklist item shows its reader: section, title and description
    in the reader's language (``item.shown_title``), for templates and progress."""

    section: str
    section_ja: str
    title: str
    title_ja: str
    description_html: str
    description_html_ja: str

    @property
    def shown_section(self) -> str:
        return in_reader_language(self.section, self.section_ja)

    @property
    def shown_title(self) -> str:
        return in_reader_language(self.title, self.title_ja)

    @property
    def shown_description_html(self) -> str:
        return in_reader_language(self.description_html, self.description_html_ja)


class ChecklistTemplate(models.Model):
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checklist_templates",
        help_text=_("Leave empty for a template every team can use."),
        verbose_name=_("team"),
    )
    name = models.CharField(_("name"), max_length=200)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200, blank=True, db_default="")
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("readiness:template_edit", args=[self.pk])

    @property
    def shown_name(self) -> str:
        return in_reader_language(self.name, self.name_ja)

    def touch(self) -> None:
        self.updated_at = timezone.now()
        self.save(update_fields=["updated_at"])


class TemplateItem(ShownText, models.Model):
    Kind = Kind

    template = models.ForeignKey(
        ChecklistTemplate,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("template"),
    )
    section = models.CharField(_("section"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("description"), blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)]
    )
    # The description as sanitised HTML, rendered once when it is saved.
    description_html = models.TextField(
        blank=True, editable=False, verbose_name=_("description html")
    )
    # Japanese text, shown to people whose language is Japanese; empty falls
    # back to the text above.
    section_ja = models.CharField(
        _("section (Japanese)"), max_length=100, blank=True, db_default=""
    )
    title_ja = models.CharField(_("title (Japanese)"), max_length=200, blank=True, db_default="")
    description_ja = models.TextField(
        _("description (Japanese)"),
        blank=True,
        db_default="",
        validators=[MaxLengthValidator(DESCRIPTION_MAX)],
    )
    description_html_ja = models.TextField(
        blank=True, db_default="", editable=False, verbose_name=_("description html (Japanese)")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind, default=Kind.TASK)
    required = models.BooleanField(_("required"), default=True)
    needs_signoff = models.BooleanField(_("needs a lead's sign-off"), default=False)
    runbook = models.ForeignKey(
        Runbook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("runbook"),
    )
    count = models.PositiveIntegerField(
        _("count"), default=1, help_text=_("How many shifts, for shadow and reverse-shadow items.")
    )
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("template item")
        verbose_name_plural = _("template items")

    def __str__(self) -> str:
        return self.title

    def copy_to(self, template: "ChecklistTemplate") -> "TemplateItem":
        """The same item for another template (unsaved)."""
        return TemplateItem(
            template=template,
            section=self.section,
            title=self.title,
            description=self.description,
            description_html=self.description_html,
            section_ja=self.section_ja,
            title_ja=self.title_ja,
            description_ja=self.description_ja,
            description_html_ja=self.description_html_ja,
            kind=self.kind,
            required=self.required,
            needs_signoff=self.needs_signoff,
            runbook_id=self.runbook_id,
            count=self.count,
            order=self.order,
        )

    def set_description(self, text: str, *, japanese: str | None = None) -> None:
        """Take new description text (and its Japanese text when given) and
        render it once, here, not on every view."""
        self.description = text
        self.description_html = render_description(text)
        if japanese is not None:
            self.description_ja = japanese
            self.description_html_ja = render_description(japanese)


class Onboarding(models.Model):
    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("in progress")
        READY = "ready", _("ready")
        CLEARED = "cleared", _("cleared")

    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="onboardings",
        verbose_name=_("engineer"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="onboardings", verbose_name=_("team")
    )
    template = models.ForeignKey(
        ChecklistTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="onboardings",
        verbose_name=_("template"),
    )
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mentored_onboardings",
        verbose_name=_("mentor"),
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_onboardings",
        verbose_name=_("lead"),
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    target_date = models.DateField(_("target date"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State, default=State.IN_PROGRESS, db_index=True
    )
    # When the gate last started passing (None while it does not): the
    # dashboard's chart of readiness over time reads it.
    ready_at = models.DateTimeField(_("ready since"), null=True, blank=True)
    # The gate's counts as last reconciled (``reconcile.reconcile``, the one
    # writer): required items complete, and required items in all.
    required_done = models.PositiveIntegerField(_("required items complete"), default=0)
    required_total = models.PositiveIntegerField(_("required items"), default=0)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("cleared by"),
    )
    cleared_at = models.DateTimeField(_("cleared"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["team", "state"])]
        verbose_name = _("onboarding")
        verbose_name_plural = _("onboardings")

    def __str__(self) -> str:
        return gettext("%(engineer)s in %(team)s") % {"engineer": self.engineer, "team": self.team}

    def get_absolute_url(self) -> str:
        return reverse("readiness:onboarding", args=[self.pk])

    @property
    def is_cleared(self) -> bool:
        return self.state == self.State.CLEARED

    @property
    def required_left(self) -> int:
        return self.required_total - self.required_done

    @property
    def percent(self) -> int:
        """The progress figure, as stored by the last reconcile (see ``gate.progress_percent``)."""
        return progress_percent(self.required_done, self.required_total)

    def log(
        self, verb: str, *, actor=None, item=None, note: str = "", at=None, progress: bool = True
    ) -> "Activity":
        """Record one thing that happened; people's actions count as activity.

        A system event (a runbook changed under a read item) has no actor and
        leaves ``last_activity_at`` alone: it is not progress, and a stalled
        onboarding must stay stalled. So does a note from someone else
        (``progress=False``).
        """
        at = at or timezone.now()
        activity = Activity.objects.create(
            onboarding=self, item=item, actor=actor, verb=verb, note=note, at=at
        )
        if actor is not None and progress:
            self.last_activity_at = at
            Onboarding.objects.filter(pk=self.pk).update(last_activity_at=at)
        return activity

    def clear(self, *, by) -> None:
        self.state = self.State.CLEARED
        self.cleared_by = by
        self.cleared_at = timezone.now()
        self.save(update_fields=["state", "cleared_by", "cleared_at"])

    def reopen(self) -> None:
        self.state = self.State.IN_PROGRESS
        self.cleared_by = None
        self.cleared_at = None
        self.ready_at = None
        self.save(update_fields=["state", "cleared_by", "cleared_at", "ready_at"])


class ItemProgress(ShownText, models.Model):
    Kind = Kind

    onboarding = models.ForeignKey(
        Onboarding, on_delete=models.CASCADE, related_name="items", verbose_name=_("onboarding")
    )
    template_item = models.ForeignKey(
        TemplateItem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="progress",
        verbose_name=_("template item"),
    )
    # A snapshot of the template item, taken when the onboarding started.
    section = models.CharField(_("section"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    description_html = models.TextField(
        blank=True, editable=False, verbose_name=_("description html")
    )
    # Japanese text, shown to people whose language is Japanese; empty falls
    # back to the text above.
    section_ja = models.CharField(
        _("section (Japanese)"), max_length=100, blank=True, db_default=""
    )
    title_ja = models.CharField(_("title (Japanese)"), max_length=200, blank=True, db_default="")
    description_ja = models.TextField(
        _("description (Japanese)"),
        blank=True,
        db_default="",
        validators=[MaxLengthValidator(DESCRIPTION_MAX)],
    )
    description_html_ja = models.TextField(
        blank=True, db_default="", editable=False, verbose_name=_("description html (Japanese)")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind, default=Kind.TASK)
    required = models.BooleanField(_("required"), default=True)
    needs_signoff = models.BooleanField(_("needs a lead's sign-off"), default=False)
    runbook = models.ForeignKey(
        Runbook,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("runbook"),
    )
    count = models.PositiveIntegerField(_("count"), default=1)
    order = models.PositiveIntegerField(_("order"), default=0)
    # Progress.
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("done by"),
    )
    note = models.TextField(_("note"), blank=True)
    signed_off_at = models.DateTimeField(_("signed off"), null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("signed off by"),
    )
    revision_read = models.ForeignKey(
        Revision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("revision read"),
    )
    # A sign-off the lead gave and that no longer holds, because the item was
    # unticked or its note changed afterwards: who had signed, when it lapsed.
    signoff_withdrawn_from = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("signoff withdrawn from"),
    )
    signoff_withdrawn_at = models.DateTimeField(_("sign-off withdrawn"), null=True, blank=True)
    # The runbook revision a "re-read needed" activity was last recorded for,
    # so each new revision is announced once.
    reread_noted_revision = models.ForeignKey(
        Revision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reread noted revision"),
    )

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")

    def __str__(self) -> str:
        return self.title

    @property
    def is_shift_item(self) -> bool:
        return self.kind in SHIFT_KINDS

    @property
    def is_drill_item(self) -> bool:
        return self.kind == Kind.DRILL

    @property
    def is_counted(self) -> bool:
        """Done by a count (shifts confirmed, drills passed), not by a tick."""
        return self.kind in COUNTED_KINDS

    @property
    def changed_since_read(self) -> bool:
        """Read once, but the runbook has a newer revision now."""
        return (
            self.kind == Kind.READ_RUNBOOK
            and self.revision_read_id is not None
            and self.runbook is not None
            and self.runbook.current_revision_id != self.revision_read_id
        )

    def diff_url(self) -> str:
        """Where to see what changed between the revision read and the current one."""
        if not self.changed_since_read or self.revision_read is None:
            return ""
        current = self.runbook.current_revision
        return (
            reverse("runbooks:diff", args=[self.runbook.slug])
            + f"?from={self.revision_read.number}&to={current.number}"
        )

    @classmethod
    def from_template_item(cls, item: TemplateItem, *, onboarding: "Onboarding") -> "ItemProgress":
        """A snapshot of ``item`` for ``onboarding`` (unsaved): later template edits leave it be."""
        return cls(
            onboarding=onboarding,
            template_item=item,
            section=item.section,
            title=item.title,
            description=item.description,
            description_html=item.description_html,
            section_ja=item.section_ja,
            title_ja=item.title_ja,
            description_ja=item.description_ja,
            description_html_ja=item.description_html_ja,
            kind=item.kind,
            required=item.required,
            needs_signoff=item.needs_signoff,
            runbook_id=item.runbook_id,
            count=item.count,
            order=item.order,
        )

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None

    def tick(self, *, by, note: str = "") -> None:
        self.done_at = timezone.now()
        self.done_by = by
        if note:
            self.note = note
        self.save(update_fields=["done_at", "done_by", "note"])

    def untick(self) -> bool:
        """Undo the item. A sign-off goes with it (what was signed is gone), and
        the lead who gave it is remembered so they can be told. Returns True
        when a sign-off was withdrawn."""
        withdrawn = self._withdraw_signoff()
        self.done_at = None
        self.done_by = None
        self.revision_read = None
        self.save(
            update_fields=[
                "done_at",
                "done_by",
                "revision_read",
                "signed_off_at",
                "signed_off_by",
                "signoff_withdrawn_from",
                "signoff_withdrawn_at",
            ]
        )
        return withdrawn

    def mark_read(self, *, revision: Revision, by) -> None:
        self.revision_read = revision
        self.reread_noted_revision = None
        self.done_at = timezone.now()
        self.done_by = by
        self.save(update_fields=["revision_read", "reread_noted_revision", "done_at", "done_by"])

    def sign_off(self, *, by) -> None:
        self.signed_off_at = timezone.now()
        self.signed_off_by = by
        self.signoff_withdrawn_from = None
        self.signoff_withdrawn_at = None
        self.save(
            update_fields=[
                "signed_off_at",
                "signed_off_by",
                "signoff_withdrawn_from",
                "signoff_withdrawn_at",
            ]
        )

    def set_note(self, note: str) -> bool:
        """Change the note, the item's evidence. A sign-off given to the old
        evidence no longer holds. Returns True when a sign-off was withdrawn."""
        if note == self.note:
            return False
        self.note = note
        withdrawn = self._withdraw_signoff()
        self.save(
            update_fields=[
                "note",
                "signed_off_at",
                "signed_off_by",
                "signoff_withdrawn_from",
                "signoff_withdrawn_at",
            ]
        )
        return withdrawn

    def _withdraw_signoff(self) -> bool:
        if self.signed_off_at is None:
            return False
        self.signoff_withdrawn_from = self.signed_off_by
        self.signoff_withdrawn_at = timezone.now()
        self.signed_off_at = None
        self.signed_off_by = None
        return True


class Activity(models.Model):
    class Verb(models.TextChoices):
        START = "start", _("started the onboarding")
        TICK = "tick", _("ticked")
        UNTICK = "untick", _("unticked")
        NOTE = "note", _("wrote a note on")
        SIGN_OFF = "sign_off", _("signed off")
        CLEAR = "clear", _("cleared for on-call")
        REOPEN = "reopen", _("reopened")
        REREAD_NEEDED = "reread_needed", _("runbook changed since it was read:")
        SIGNOFF_WITHDRAWN = "signoff_withdrawn", _("sign-off withdrawn, the item changed after it:")
        SHIFT_ATTENDED = "shift_attended", _("recorded attending a shift:")
        SHIFT_CONFIRMED = "shift_confirmed", _("confirmed a shift:")
        SHIFT_CANCELLED = "shift_cancelled", _("cancelled a shift:")
        COMMENT = "comment", _("wrote:")

    onboarding = models.ForeignKey(
        Onboarding,
        on_delete=models.CASCADE,
        related_name="activities",
        verbose_name=_("onboarding"),
    )
    item = models.ForeignKey(
        ItemProgress,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
        verbose_name=_("item"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    verb = models.CharField(_("what"), max_length=30, choices=Verb)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["onboarding", "at"])]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")

    def __str__(self) -> str:
        return gettext("%(actor)s %(verb)s at %(when)s") % {
            "actor": self.actor or "oncall",
            "verb": self.get_verb_display(),
            "when": f"{self.at:%Y-%m-%d %H:%M}",
        }

    def sentence(self) -> str:
        """What happened, as one whole sentence of the reader's language (the
        note, if any, is shown after it): never a verb glued between a name and
        a quoted title, which reads wrongly in Japanese."""
        who = display_name(self.actor) if self.actor else gettext("oncall")
        item = self.item.shown_title if self.item else ""
        V = self.Verb
        with_item = {
            V.TICK: gettext("%(who)s marked “%(item)s” done."),
            V.UNTICK: gettext("%(who)s marked “%(item)s” not done."),
            V.NOTE: gettext("%(who)s wrote a note on “%(item)s”."),
            V.SIGN_OFF: gettext("%(who)s signed off “%(item)s”."),
            V.REOPEN: gettext("%(who)s reopened “%(item)s”."),
            V.REREAD_NEEDED: gettext("The runbook of “%(item)s” changed since it was read."),
            V.SIGNOFF_WITHDRAWN: gettext(
                "The sign-off on “%(item)s” was withdrawn: the item changed after it."
            ),
            V.SHIFT_ATTENDED: gettext("%(who)s recorded attending a shift for “%(item)s”."),
            V.SHIFT_CONFIRMED: gettext("%(who)s confirmed a shift for “%(item)s”."),
            V.SHIFT_CANCELLED: gettext("%(who)s cancelled a shift for “%(item)s”."),
            V.COMMENT: gettext("%(who)s wrote on “%(item)s”:"),
        }
        alone = {
            V.START: gettext("%(who)s started the onboarding."),
            V.CLEAR: gettext("%(who)s cleared them for on-call."),
            V.REOPEN: gettext("%(who)s reopened the onboarding."),
            V.SHIFT_ATTENDED: gettext("%(who)s recorded attending a shift."),
            V.SHIFT_CONFIRMED: gettext("%(who)s confirmed a shift."),
            V.SHIFT_CANCELLED: gettext("%(who)s cancelled a shift."),
            V.COMMENT: gettext("%(who)s wrote:"),
        }
        template = (with_item if item else alone).get(self.verb)
        if template is None:
            # A verb that needs an item whose item is gone: the verb as stored.
            return f"{who} {self.get_verb_display()}"
        return template % {"who": who, "item": item}
