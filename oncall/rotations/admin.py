from django.contrib import admin

from oncall.rotations.models import PersonLink, Rotation, ShadowPlan


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "person_rule", "last_read_at", "error_code"]
    list_select_related = ["team"]
    exclude = ["uploaded", "etag", "last_modified", "content_hash"]


@admin.register(ShadowPlan)
class ShadowPlanAdmin(admin.ModelAdmin):
    list_display = ["trainee", "rotation", "kind", "starts_on", "ends_on"]
    list_select_related = ["trainee", "rotation"]
    raw_id_fields = ["trainee", "created_by"]


@admin.register(PersonLink)
class PersonLinkAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "team"]
    raw_id_fields = ["user"]
