from django.contrib import admin
from django.urls import include, path

from oncall.metrics.views import metrics

urlpatterns = [
    # Before teams: sign-in, sign-out and the admin's login are the accounts app's.
    path("", include("oncall.accounts.urls")),
    path("", include("oncall.teams.urls")),
    path("", include("oncall.readiness.urls")),
    path("runbooks/", include("oncall.runbooks.urls")),
    path("shifts/", include("oncall.shifts.urls")),
    path("reminders/", include("oncall.reminders.urls")),
    path("", include("oncall.alerts.urls")),
    path("", include("oncall.drills.urls")),
    path("", include("oncall.rotations.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
]
