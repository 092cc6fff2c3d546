from django.urls import path

from . import views

app_name = "chatops"

urlpatterns = [
    path("commands/", views.slash_command, name="slash_command"),
]
