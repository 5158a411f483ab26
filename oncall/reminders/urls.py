from django.urls import path

from oncall.reminders import views

app_name = "reminders"
urlpatterns = [
    path("", views.reminder_list, name="list"),
    path("test/", views.send_test, name="send_test"),
]
