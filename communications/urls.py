from django.urls import path

from . import views

app_name = "communications"

urlpatterns = [
    path("status/", views.status_page, name="status"),
    path("status/incidents/<int:pk>/", views.status_incident, name="status_incident"),
    path("status/feed.atom", views.status_feed, name="status_feed"),
    path("status/summary.json", views.status_summary, name="status_summary"),
    path("status/subscribe/", views.subscribe, name="subscribe"),
    path(
        "status/subscribe/confirm/<str:token>/",
        views.subscribe_confirm,
        name="subscribe_confirm",
    ),
    path("status/subscription/<str:token>/", views.subscription, name="subscription"),
    path("status/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("communications/", views.customer_work, name="customer_work"),
    path(
        "communications/notices/<int:pk>/call-done/",
        views.enterprise_call_complete,
        name="call_complete",
    ),
    path(
        "communications/notices/<int:pk>/report-sent/",
        views.enterprise_report_mark_sent,
        name="report_sent",
    ),
]
