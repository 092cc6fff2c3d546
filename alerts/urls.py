from django.urls import path, re_path

from . import views

app_name = "alerts"

urlpatterns = [
    path("webhooks/<str:kind>/", views.webhook, name="webhook"),
    path("webhooks/<str:kind>/<str:token>/", views.webhook, name="webhook_token"),
    # The same without the trailing slash: many senders are set up without it, and a redirect
    # would lose the POST.
    re_path(r"^webhooks/(?P<kind>[^/]+)$", views.webhook, name="webhook_bare"),
    re_path(
        r"^webhooks/(?P<kind>[^/]+)/(?P<token>[^/]+)$", views.webhook, name="webhook_token_bare"
    ),
    path("alerts/", views.alert_inbox, name="inbox"),
    path("alerts/export.csv", views.alert_export, name="export"),
    path("alerts/mark/", views.alert_mark, name="mark"),
    path("alerts/integrations/", views.integration_list, name="integration_list"),
    path("alerts/integrations/<int:pk>/", views.integration_detail, name="integration_detail"),
]
