from django.urls import path

from oncall.runbooks import views

app_name = "runbooks"
urlpatterns = [
    path("", views.index, name="index"),
    path("alert/<str:alertname>", views.alert, name="alert"),
    # "-" is never a whole path segment of a slug, so these cannot shadow a runbook.
    path("<path:slug>/-/diff/", views.diff, name="diff"),
    path("<path:slug>/", views.detail, name="detail"),
]
