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
    fields = ["team", "name", "key", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        # A source is created or revoked, not edited: a new name needs a new token.
        return obj is None and super().has_change_permission(request, obj)

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
    list_display = ["alertname", "team", "status", "starts_at", "ends_at", "runbook", "deliveries"]
    list_filter = ["status", "team"]
    search_fields = ["alertname", "fingerprint"]
    list_select_related = ["team", "runbook"]
    date_hierarchy = "starts_at"
    readonly_fields = [f.name for f in AlertOccurrence._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
