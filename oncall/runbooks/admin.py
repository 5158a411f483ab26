from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from oncall.runbooks.models import Revision, Runbook, Section, SyncRun
from oncall.runbooks.tasks import run_sync


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


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ["path", "title", "source_root"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Admin › Runbook syncs › Add starts an import in the Celery worker."""

    list_display = ["created_at", "state", "summary", "requested_by", "finished_at"]
    fields = ["folders", "state", "summary", "log", "requested_by", "finished_at"]
    readonly_fields = ["state", "summary", "log", "requested_by", "finished_at"]

    def get_changeform_initial_data(self, request):
        return {"folders": [str(settings.RUNBOOKS_DIR)]}

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.state == SyncRun.State.PENDING

    def save_model(self, request, obj, form, change):
        if not change:
            obj.requested_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            transaction.on_commit(lambda: run_sync.delay(obj.pk))
            messages.info(request, _("The sync is queued; this page shows its result when done."))
