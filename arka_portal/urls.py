from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    # First, because every alert webhook request walks the list until it matches.
    path("", include("alerts.urls")),
    path(
        "accounts/login/",
        # With DEBUG on, the page names the demo login that `make run` loads.
        auth_views.LoginView.as_view(extra_context={"show_demo_login": settings.DEBUG}),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("oncall/", include("oncall.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("security/", include("security.urls")),
    path("runbooks/", include("runbooks.urls")),
    path("paging/", include("paging.urls")),
    path("", include("communications.urls")),
    path("slack/", include("chatops.urls")),
    path("", include("incidents.urls")),
]
