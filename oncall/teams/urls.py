from django.urls import path

from oncall.teams import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("profile/", views.profile, name="profile"),
    path(
        "profile/calendar-token/",
        views.regenerate_calendar_token,
        name="regenerate_calendar_token",
    ),
]
