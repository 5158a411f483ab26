from django.contrib import admin

from oncall.drills.models import Drill, Response, ResponseEvent, Scenario, ScenarioStep


class StepInline(admin.TabularInline):
    model = ScenarioStep
    extra = 0
    fields = ["position", "kind", "offset", "alertname", "text", "runbook"]
    raw_id_fields = ["runbook"]


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "source", "created_at"]
    list_filter = ["team", "source"]
    search_fields = ["title"]
    inlines = [StepInline]
    raw_id_fields = ["created_by"]
    filter_horizontal = ["expected_runbooks"]


@admin.register(Drill)
class DrillAdmin(admin.ModelAdmin):
    list_display = ["scenario", "trainee", "game_master", "state", "grade", "scheduled_at"]
    list_filter = ["state", "grade", "team"]
    raw_id_fields = ["scenario", "trainee", "game_master", "graded_by"]


class EventInline(admin.TabularInline):
    """The log is append-only: shown, never edited here."""

    model = ResponseEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "by", "text", "runbook"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["responder", "drill", "occurrence", "acknowledged_at", "mark"]
    list_filter = ["mark", "end_choice"]
    raw_id_fields = ["responder", "drill", "occurrence", "shift", "marked_by"]
    inlines = [EventInline]
