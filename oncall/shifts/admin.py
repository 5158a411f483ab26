from django.contrib import admin
from django.utils import timezone

from oncall.shifts.models import ShadowShift


@admin.register(ShadowShift)
class ShadowShiftAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "ends_at", "team", "kind", "trainee", "primary", "state"]
    list_filter = ["team", "kind", "state"]
    search_fields = ["trainee__username", "primary__username", "team__name"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["trainee", "primary", "created_by"]
    filter_horizontal = ["debrief_runbooks"]
    readonly_fields = ["uid", "series", "sequence", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        # An edit here is a change like any other: subscribed calendars only
        # take it when the event's SEQUENCE goes up.
        if change and form.changed_data:
            obj.sequence += 1
            obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
