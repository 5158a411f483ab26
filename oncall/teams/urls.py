from django.urls import path

from oncall.teams import language, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("profile/", views.profile, name="profile"),
    path("language/", language.switch, name="set_language"),
    path(
        "profile/calendar-token/",
        views.regenerate_calendar_token,
        name="regenerate_calendar_token",
    ),
]
