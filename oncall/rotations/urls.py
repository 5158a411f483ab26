from django.urls import path

from oncall.rotations import views

app_name = "rotations"

urlpatterns = [
    path("teams/<slug:slug>/rotations/", views.index, name="index"),
    path("teams/<slug:slug>/rotations/add/", views.add, name="add"),
    path("teams/<slug:slug>/rotations/plans/add/", views.add_plan, name="add_plan"),
    path("teams/<slug:slug>/rotations/link/", views.link, name="link"),
    path("teams/<slug:slug>/rotations/<int:pk>/read/", views.read_now, name="read"),
]
