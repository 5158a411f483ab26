from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from oncall.shifts.models import ShadowShift
from oncall.shifts.schedule import find_clash, save_edited
from oncall.shifts.series import Occurrence
from oncall.teams.forms import BoundedModelMultipleChoiceField


class ShadowShiftAdminForm(forms.ModelForm):
    class Meta:
        model = ShadowShift
        fields = "__all__"  # noqa: DJ007 - the admin edits every field

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        trainee, primary = data.get("trainee"), data.get("primary")
        if trainee and primary and trainee == primary:
            self.add_error("primary", _("The trainee cannot be their own primary."))
        elif starts and ends and trainee and primary and data.get("state") != "cancelled":
            occurrence = Occurrence(local_date=starts.date(), starts_at=starts, ends_at=ends)
            exclude = [self.instance.pk] if self.instance.pk else []
            clash = find_clash(occurrences=[occurrence], people=[trainee, primary], exclude=exclude)
            if clash:
                self.add_error(
                    None,
                    _("%(person)s already has a shift then: #%(pk)s (%(start)s–%(end)s UTC).")
                    % {
                        "person": clash.person,
                        "pk": clash.shift.pk,
                        "start": f"{clash.shift.starts_at:%Y-%m-%d %H:%M}",
                        "end": f"{clash.shift.ends_at:%H:%M}",
                    },
                )
        return data


@admin.register(ShadowShift)
class ShadowShiftAdmin(admin.ModelAdmin):
    form = ShadowShiftAdminForm
    # Ids past 64 bits are a form error, not a database error.
    formfield_overrides = {models.ManyToManyField: {"form_class": BoundedModelMultipleChoiceField}}
    list_display = ["starts_at", "ends_at", "team", "kind", "trainee", "primary", "state"]
    list_filter = ["team", "kind", "state"]
    search_fields = ["trainee__username", "primary__username", "team__name"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["trainee", "primary", "created_by", "confirmed_by"]
    filter_horizontal = ["debrief_runbooks"]
    readonly_fields = ["uid", "series", "sequence", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        former = frozenset()
        if change:
            before = ShadowShift.objects.filter(pk=obj.pk).values_list("team_id", "trainee_id")
            former = frozenset(before)
        super().save_model(request, obj, form, change)
        # An edit here is a change like any other: calendars take it when the
        # event's SEQUENCE goes up, bookings follow it, readiness is told.
        if not change or form.changed_data:
            save_edited(shift=obj, by=request.user, former=former)
