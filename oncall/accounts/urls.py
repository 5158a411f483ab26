from django.urls import path

from oncall.accounts import views

urlpatterns = [
    path("accounts/login/", views.sign_in, name="login"),
    path("accounts/logout/", views.sign_out, name="logout"),
    path("accounts/oidc/start/", views.sso_start, name="sso_start"),
    path("accounts/oidc/callback/", views.sso_callback, name="sso_callback"),
    path("admin/login/", views.admin_login, name="admin_login"),
    path("teams/<slug:slug>/members/", views.team_members, name="team_members"),
    path(
        "teams/<slug:slug>/members/<int:user_id>/role/",
        views.change_member_role,
        name="change_member_role",
    ),
    path(
        "teams/<slug:slug>/members/<int:user_id>/remove/",
        views.remove_member,
        name="remove_member",
    ),
    path("teams/<slug:slug>/settings/", views.team_settings, name="team_settings"),
]
