from django.urls import path

from . import views

app_name = "paging"

urlpatterns = [
    path("incidents/<int:pk>/escalate/", views.incident_escalate, name="escalate"),
    path("acknowledge/<str:token>/", views.acknowledge_link, name="acknowledge_link"),
    path("webhooks/pagerduty/", views.pagerduty_webhook, name="pagerduty_webhook"),
]
