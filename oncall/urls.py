from django.urls import path

from . import views

app_name = "oncall"

urlpatterns = [
    path("", views.on_call_overview, name="overview"),
    path("rotations/<int:pk>/", views.rotation_schedule, name="rotation_schedule"),
    path("rotations/<int:pk>/overrides/add/", views.override_add, name="override_add"),
    path(
        "rotations/<int:pk>/feed/rotate/",
        views.rotation_feed_token_rotate,
        name="rotation_feed_token_rotate",
    ),
    path("my-shifts/", views.my_shifts, name="my_shifts"),
    path("profile/", views.profile_edit, name="profile"),
    path("profile/feed/rotate/", views.profile_feed_token_rotate, name="profile_feed_token_rotate"),
    path("feeds/rotations/<int:pk>/<str:token>.ics", views.rotation_feed, name="rotation_feed"),
    path("feeds/people/<int:user_pk>/<str:token>.ics", views.person_feed, name="person_feed"),
]
