from django.urls import path

from oncall.teams.views import coming_soon

app_name = "runbooks"
urlpatterns = [
    path("", coming_soon, {"title": "Runbooks"}, name="index"),
    path("alert/<str:alertname>", coming_soon, {"title": "Runbook"}, name="alert"),
    path("<path:slug>/", coming_soon, {"title": "Runbook"}, name="detail"),
]
