from django.contrib.auth import views as auth_views
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
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
