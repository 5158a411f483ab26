from django.urls import path

from oncall.drills import views

app_name = "drills"

urlpatterns = [
    path("drills/", views.drill_list, name="list"),
    path("drills/<int:pk>/", views.console, name="console"),
    path("drills/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("drills/<int:pk>/note/", views.note, name="note"),
    path("drills/<int:pk>/end/", views.end, name="end"),
    path("drills/<int:pk>/inject/<int:step>/", views.inject, name="inject"),
    path("drills/<int:pk>/finish/", views.finish, name="finish"),
    path("drills/<int:pk>/grade/", views.grade, name="grade"),
    path("drills/<int:pk>/runbooks/<path:slug>", views.open_runbook, name="open_runbook"),
    path("shifts/<int:shift>/pages/<int:occurrence>/", views.live_page, name="live_page"),
    path(
        "shifts/<int:shift>/pages/<int:occurrence>/acknowledge/",
        views.live_acknowledge,
        name="live_acknowledge",
    ),
    path("shifts/<int:shift>/pages/<int:occurrence>/note/", views.live_note, name="live_note"),
    path("shifts/<int:shift>/pages/<int:occurrence>/end/", views.live_end, name="live_end"),
    path(
        "shifts/<int:shift>/pages/<int:occurrence>/review/",
        views.live_review,
        name="live_review",
    ),
    path("teams/<slug:slug>/scenarios/", views.scenarios, name="scenarios"),
    path("teams/<slug:slug>/scenarios/record/", views.record, name="record"),
    path("teams/<slug:slug>/scenarios/<int:pk>/", views.scenario, name="scenario"),
    path("teams/<slug:slug>/scenarios/<int:pk>/download/", views.download, name="download"),
]
