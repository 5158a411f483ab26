from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from oncall.teams import language
from oncall.teams.forms import BoundedModelMultipleChoiceField, PrintableNamesMixin
from oncall.teams.models import Heartbeat, Membership, Profile, Team

User = get_user_model()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "joined_at"]
    list_filter = ["team", "role"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "language", "time_zone", "email_enabled", "webhook_enabled"]
    list_filter = ["language"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["calendar_token"]
    list_select_related = ["user"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.user_id == request.user.pk:
            # Your own language applies at once; another person's at their next sign-in.
            language.remember(request, obj.language)


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "at"]


class PersonChangeForm(PrintableNamesMixin, UserChangeForm):
    pass


class PersonCreationForm(PrintableNamesMixin, AdminUserCreationForm):
    pass


# Django's user admin, with names that cannot carry line breaks into email
# headers and calendar feeds, and group/permission ids range-checked.
admin.site.unregister(User)


@admin.register(User)
class PersonAdmin(UserAdmin):
    form = PersonChangeForm
    add_form = PersonCreationForm

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
