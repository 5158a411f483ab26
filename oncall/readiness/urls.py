from django.urls import path

from oncall.teams.views import coming_soon

app_name = "readiness"
urlpatterns = [
    path("", coming_soon, {"title": "My onboarding"}, name="home"),
    path(
        "teams/<slug:slug>/readiness/", coming_soon, {"title": "Team readiness"}, name="dashboard"
    ),
]
