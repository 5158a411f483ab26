from django.contrib import admin

from oncall.accounts.models import Identity, MembershipChange


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "subject", "issuer", "created_at", "last_login_at"]
    search_fields = ["user__username", "user__email", "subject"]
    list_select_related = ["user"]
    readonly_fields = ["created_at", "last_login_at"]


@admin.register(MembershipChange)
class MembershipChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "team", "user", "action", "role", "source", "actor"]
    list_filter = ["team", "source", "action"]
    list_select_related = ["team", "user", "actor"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
