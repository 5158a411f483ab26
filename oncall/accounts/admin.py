from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from oncall.accounts.models import Identity, MembershipChange
from oncall.teams.admin import PersonAdmin


class IdentityForm(forms.ModelForm):
    """An identity linked by hand: what the sign-in error page showed the person.

    Single sign-on never links an existing staff account, or one with a usable
    password, by email (oncall/accounts/oidc.py); an admin links it here.
    Django's form fields already strip the values and refuse NUL characters
    (a form cannot carry a lone surrogate), so the boundary rule holds.
    """

    class Meta:
        model = Identity
        fields = ["user", "issuer", "subject"]
        help_texts = {
            "issuer": _("The provider's issuer URL, exactly as the sign-in error page shows it."),
            "subject": _(
                "The person's subject (“sub”) at that provider, from the sign-in error page. "
                "Not their email address or username: those can change, the subject does not."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and settings.OIDC_ISSUER:
            self.fields["issuer"].initial = settings.OIDC_ISSUER


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    form = IdentityForm
    list_display = ["user", "subject", "issuer", "created_at", "last_login_at"]
    search_fields = ["user__username", "user__email", "subject"]
    list_filter = ["issuer"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "last_login_at"]


class IdentityInline(admin.TabularInline):
    model = Identity
    form = IdentityForm
    extra = 0
    fields = ["issuer", "subject", "created_at", "last_login_at"]
    readonly_fields = ["created_at", "last_login_at"]
    verbose_name_plural = _("identities at the single sign-on provider")


# The person's page in the admin lists their identities, where an admin links
# one by hand (the teams app registers the page; this adds to it).
User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PersonWithIdentitiesAdmin(PersonAdmin):
    inlines = [*PersonAdmin.inlines, IdentityInline]


@admin.register(MembershipChange)
class MembershipChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "team", "user", "action", "role", "source", "actor"]
    list_filter = ["team", "source", "action"]
    list_select_related = ["team", "user", "actor"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
