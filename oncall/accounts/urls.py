from django.urls import path

from oncall.accounts import views

urlpatterns = [
    path("accounts/login/", views.sign_in, name="login"),
    path("accounts/logout/", views.sign_out, name="logout"),
    path("accounts/oidc/start/", views.sso_start, name="sso_start"),
    path("accounts/oidc/callback/", views.sso_callback, name="sso_callback"),
    path("admin/login/", views.admin_login, name="admin_login"),
    path("teams/<slug:slug>/members/", views.team_members, name="team_members"),
]
