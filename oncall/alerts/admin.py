from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from oncall.alerts.models import AlertOccurrence, AlertSource
from oncall.alerts.sources import webhook_snippet


@admin.register(AlertSource)
class AlertSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "team__slug", "key"]
    list_select_related = ["team", "created_by"]
    fields = [
        "team",
        "name",
        "other_teams",
        "key",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    filter_horizontal = ["other_teams"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # A source's team and name stay as created (a new name needs a new
        # token); which other teams it may file for is what changes.
        fixed = ["key", "created_by", "created_at", "last_used_at", "revoked_at"]
        return fixed if obj is None else ["team", "name", *fixed]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
            token = obj.set_new_token()
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                _(
                    "The token of %(name)s, shown only this once: %(token)s — "
                    "Alertmanager configuration: %(snippet)s"
                )
                % {
                    "name": obj.name,
                    "token": token,
                    "snippet": webhook_snippet(source=obj, token=token),
                },
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected sources"))
    def revoke(self, request, queryset) -> None:
        for source in queryset.filter(revoked_at__isnull=True):
            source.revoke(by=request.user)


@admin.register(AlertOccurrence)
class AlertOccurrenceAdmin(admin.ModelAdmin):
    list_display = [
        "alertname",
        "team",
        "source",
        "status",
        "starts_at",
        "ends_at",
        "runbook",
        "deliveries",
    ]
    list_filter = ["status", "team"]
    search_fields = ["alertname", "fingerprint"]
    list_select_related = ["team", "source__team", "runbook"]
    date_hierarchy = "starts_at"
    readonly_fields = [f.name for f in AlertOccurrence._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
