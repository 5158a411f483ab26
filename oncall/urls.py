from django.contrib import admin
from django.urls import include, path

from oncall.metrics.views import metrics

urlpatterns = [
    path("", include("oncall.teams.urls")),
    path("", include("oncall.readiness.urls")),
    path("runbooks/", include("oncall.runbooks.urls")),
    path("shifts/", include("oncall.shifts.urls")),
    path("reminders/", include("oncall.reminders.urls")),
    path("", include("oncall.alerts.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
]
