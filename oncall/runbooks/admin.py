from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oncall.runbooks import alert_help
from oncall.runbooks.models import Revision, Runbook, Section, SyncRun
from oncall.runbooks.tasks import run_sync, sync_refusal

RATE_LIMITED = "rate_limited"


class RevisionInline(admin.TabularInline):
    model = Revision
    fields = ["number", "content_hash", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    """Runbooks come from git: the admin shows them and archives, never edits text."""

    list_display = ["title", "slug", "team", "service", "owner", "archived"]
    list_filter = ["archived", "team", "service"]
    search_fields = ["title", "slug", "alert_names__key"]
    readonly_fields = ["slug", "source_root", "source_path", "current_revision", "created_at"]
    fields = [
        "slug", "title", "team", "service", "alerts", "tags", "owner", "review_every",
        "last_reviewed", "archived", "source_root", "source_path", "current_revision",
        "created_at",
    ]  # fmt: skip
    inlines = [RevisionInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        alert_help.forget()  # archived or restored: the help for unknown alerts changes with it


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ["path", "title", "source_root"]


class SyncRunForm(forms.ModelForm):
    """The admin's "start a sync" form; refuses while the request would be too many."""

    requested_by = None  # set by SyncRunAdmin.get_form

    class Meta:
        model = SyncRun
        fields = ["folders"]

    def clean_folders(self):
        folders = self.cleaned_data["folders"]
        if folders in (None, ""):
            return []
        if not isinstance(folders, list) or not all(
            isinstance(folder, str) and 0 < len(folder) <= 500 and "\x00" not in folder
            for folder in folders
        ):
            raise ValidationError(_('Enter a list of folder paths, like ["/srv/runbooks"].'))
        return folders

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            refusal = sync_refusal(user=self.requested_by, now=timezone.now())
            if refusal:
                raise ValidationError(refusal, code=RATE_LIMITED)
        return cleaned


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Admin › Runbook syncs › Add starts an import in the Celery worker.

    A run's page shows how it ended: the summary says why a run failed (files
    that failed, an error that stopped it, a worker that was lost) and the
    log names every bad file with its reason.
    """

    form = SyncRunForm
    list_display = ["created_at", "state", "summary", "requested_by", "finished_at"]
    list_filter = ["state"]
    fields = ["folders", "state", "summary", "log", "requested_by", "started_at", "finished_at"]
    readonly_fields = ["state", "summary", "log", "requested_by", "started_at", "finished_at"]

    def get_changeform_initial_data(self, request):
        return {"folders": [str(settings.RUNBOOKS_DIR)]}

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.state == SyncRun.State.PENDING

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.requested_by = request.user
        return form

    def add_view(self, request, form_url="", extra_context=None):
        response = super().add_view(request, form_url, extra_context)
        # Refused for being too many: the form says why, with status 429.
        form = getattr(response, "context_data", {}).get("adminform")
        if request.method == "POST" and form is not None:
            errors = form.form.errors.as_data().get("__all__", [])
            if any(error.code == RATE_LIMITED for error in errors):
                response.status_code = 429
        return response

    def save_model(self, request, obj, form, change):
        if not change:
            obj.requested_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            transaction.on_commit(lambda: run_sync.delay(obj.pk))
            messages.info(request, _("The sync is queued; this page shows its result when done."))
