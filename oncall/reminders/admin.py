from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oncall.reminders import tasks
from oncall.reminders.models import Reminder


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = [
        "subject",
        "recipient",
        "kind",
        "channel",
        "state",
        "due_at",
        "attempts",
        "sent_at",
    ]
    list_filter = ["state", "kind", "channel"]
    search_fields = ["recipient__username", "recipient__email", "recipient__first_name", "subject"]
    list_select_related = ["recipient"]
    date_hierarchy = "due_at"
    readonly_fields = [
        "dedupe_key",
        "claimed_at",
        "claimed_by",
        "sent_at",
        "created_at",
        "updated_at",
    ]
    actions = ["retry_now"]

    @admin.action(description=_("Retry now"))
    def retry_now(self, request, queryset):
        count = sum(1 for reminder in queryset if reminder.retry_now())
        if count:
            transaction.on_commit(tasks.enqueue_dispatch)
        self.message_user(
            request,
            ngettext("%(n)d reminder is back in line.", "%(n)d reminders are back in line.", count)
            % {"n": count},
            messages.SUCCESS,
        )
