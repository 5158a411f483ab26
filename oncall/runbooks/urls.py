from django.urls import path

from oncall.runbooks import views

app_name = "runbooks"
urlpatterns = [
    path("", views.index, name="index"),
    path("alert/<str:alertname>", views.alert, name="alert"),
    # A mis-templated runbook_url: no name, or one holding "/". The alert view
    # answers with a page that says so, never a runbook folder's 404.
    path("alert/", views.alert, name="alert_unnamed"),
    path("alert/<path:alertname>", views.alert, name="alert_path"),
    # "-" is never a whole path segment of a slug, so these cannot shadow a runbook.
    path("<path:slug>/-/diff/", views.diff, name="diff"),
    path("<path:slug>/", views.detail, name="detail"),
]
