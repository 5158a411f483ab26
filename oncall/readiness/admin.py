from django import forms
from django.contrib import admin

from oncall.readiness.describe import cleaned_description
from oncall.readiness.models import (
    Activity,
    ChecklistTemplate,
    ItemProgress,
    Onboarding,
    TemplateItem,
)
from oncall.readiness.reconcile import reconcile


class DescribedForm(forms.ModelForm):
    """Renders the description once, here, and names what is wrong with it."""

    def clean_description(self) -> str:
        text = self.cleaned_data.get("description", "")
        self.instance.description_html = cleaned_description(text)
        return text

    def clean_description_ja(self) -> str:
        text = self.cleaned_data.get("description_ja", "")
        self.instance.description_html_ja = cleaned_description(text)
        return text


class TemplateItemInline(admin.TabularInline):
    model = TemplateItem
    form = DescribedForm
    extra = 1
    fields = [
        "order",
        "section",
        "title",
        "description",
        "section_ja",
        "title_ja",
        "description_ja",
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

    form = DescribedForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        reconcile(obj.onboarding)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["at", "onboarding", "verb", "actor", "item"]
    list_filter = ["verb"]
    raw_id_fields = ["onboarding", "item", "actor"]
    date_hierarchy = "at"
