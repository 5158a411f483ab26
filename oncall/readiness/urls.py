from django.urls import path

from oncall.readiness import views

app_name = "readiness"
urlpatterns = [
    path("", views.home, name="home"),
    path("onboardings/<int:pk>/", views.onboarding_detail, name="onboarding"),
    path("onboardings/<int:pk>/items/<int:item_pk>/", views.item_update, name="item"),
    path(
        "onboardings/<int:pk>/items/<int:item_pk>/sign-off/",
        views.item_sign_off,
        name="sign_off",
    ),
    path("onboardings/<int:pk>/clear/", views.clear, name="clear"),
    path("onboardings/<int:pk>/comment/", views.comment, name="comment"),
    path("onboardings/<int:pk>/reopen/", views.reopen, name="reopen"),
    path("readiness/runbooks/<int:runbook_pk>/read/", views.mark_read, name="mark_read"),
    path("teams/<slug:slug>/readiness/", views.team_dashboard, name="dashboard"),
    path("teams/<slug:slug>/readiness.csv", views.team_dashboard_csv, name="dashboard_csv"),
    path("teams/<slug:slug>/readiness/start/", views.start, name="start"),
    path("readiness/templates/", views.template_list, name="templates"),
    path("readiness/templates/new/", views.template_create, name="template_create"),
    path("readiness/templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("readiness/templates/<int:pk>/copy/", views.template_copy, name="template_copy"),
    path(
        "readiness/templates/<int:pk>/items/new/",
        views.template_item_edit,
        name="template_item_create",
    ),
    path(
        "readiness/templates/<int:pk>/items/<int:item_pk>/",
        views.template_item_edit,
        name="template_item_edit",
    ),
    path(
        "readiness/templates/<int:pk>/items/<int:item_pk>/delete/",
        views.template_item_delete,
        name="template_item_delete",
    ),
    path(
        "readiness/templates/<int:pk>/items/<int:item_pk>/move/",
        views.template_item_move,
        name="template_item_move",
    ),
]
