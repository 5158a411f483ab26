from django.contrib import admin

from oncall.readiness.describe import render_description
from oncall.readiness.models import (
    Activity,
    ChecklistTemplate,
    ItemProgress,
    Onboarding,
    TemplateItem,
)
from oncall.readiness.reconcile import reconcile


class TemplateItemInline(admin.TabularInline):
    model = TemplateItem
    extra = 1
    fields = [
        "order",
        "section",
        "title",
        "description",
        "kind",
        "required",
        "needs_signoff",
        "runbook",
        "count",
    ]
    raw_id_fields = ["runbook"]


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name"]
    inlines = [TemplateItemInline]
    raw_id_fields = ["created_by"]

    def save_formset(self, request, form, formset, change):
        items = formset.save(commit=False)
        for item in items:
            # Descriptions are rendered when saved, never when shown.
            item.set_description(item.description)
            item.save()
        for item in formset.deleted_objects:
            item.delete()


class ItemProgressInline(admin.TabularInline):
    model = ItemProgress
    extra = 0
    fields = ["order", "section", "title", "kind", "required", "done_at", "signed_off_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Onboarding)
class OnboardingAdmin(admin.ModelAdmin):
    list_display = ["engineer", "team", "state", "started_at", "target_date", "last_activity_at"]
    list_filter = ["team", "state"]
    search_fields = ["engineer__username", "engineer__first_name", "engineer__last_name"]
    raw_id_fields = ["engineer", "mentor", "lead", "cleared_by", "template"]
    inlines = [ItemProgressInline]
    # Derived from the gate: written by reconcile only.
    readonly_fields = ["state", "ready_at", "required_done", "required_total"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        reconcile(obj)


@admin.register(ItemProgress)
class ItemProgressAdmin(admin.ModelAdmin):
    list_display = ["title", "onboarding", "kind", "done_at", "signed_off_at"]
    list_filter = ["kind"]
    raw_id_fields = [
        "onboarding",
        "template_item",
        "runbook",
        "done_by",
        "signed_off_by",
        "revision_read",
        "reread_noted_revision",
        "signoff_withdrawn_from",
    ]

    def save_model(self, request, obj, form, change):
        obj.description_html = render_description(obj.description)
        super().save_model(request, obj, form, change)
        reconcile(obj.onboarding)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["at", "onboarding", "verb", "actor", "item"]
    list_filter = ["verb"]
    raw_id_fields = ["onboarding", "item", "actor"]
    date_hierarchy = "at"
