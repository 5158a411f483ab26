from django.urls import path

from oncall.alerts import views

app_name = "alerts"
urlpatterns = [
    path("integrations/alertmanager/", views.alertmanager, name="alertmanager"),
    path("teams/<slug:slug>/coverage/", views.coverage, name="coverage"),
    path("teams/<slug:slug>/alert-sources/", views.sources, name="sources"),
    path(
        "teams/<slug:slug>/alert-sources/<int:pk>/revoke/",
        views.revoke_source,
        name="revoke_source",
    ),
    path(
        "teams/<slug:slug>/alert-sources/<int:pk>/token/",
        views.new_token,
        name="new_token",
    ),
    path(
        "teams/<slug:slug>/alert-sources/<int:pk>/teams/",
        views.source_teams,
        name="source_teams",
    ),
    path(
        "teams/<slug:slug>/alert-sources/<int:pk>/withdraw/",
        views.withdraw_source,
        name="withdraw_source",
    ),
    path("shifts/<int:pk>/alerts/", views.shift_timeline, name="shift_timeline"),
]
