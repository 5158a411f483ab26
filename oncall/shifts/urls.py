from django.urls import path

from oncall.teams.views import coming_soon

app_name = "shifts"
urlpatterns = [
    path("", coming_soon, {"title": "Shifts"}, name="index"),
    path("<int:pk>/", coming_soon, {"title": "Shift"}, name="detail"),
]
