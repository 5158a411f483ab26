from django.contrib import admin

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
