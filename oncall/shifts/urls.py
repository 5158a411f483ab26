from django.urls import path

from oncall.shifts import views

app_name = "shifts"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/debrief/", views.debrief, name="debrief"),
    path("<int:pk>/answer/", views.answer, name="answer"),
    path("<int:pk>/done/", views.mark_done, name="done"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("flags/<int:runbook_pk>/dismiss/", views.dismiss_flags, name="dismiss_flags"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
    path("feed/<str:token>/<slug:slug>.ics", views.feed_team, name="feed_team"),
]
