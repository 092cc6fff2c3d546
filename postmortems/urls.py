from django.urls import path

from . import views

app_name = "postmortems"

urlpatterns = [
    path("", views.PostmortemListView.as_view(), name="list"),
    path("<int:pk>/", views.postmortem_detail, name="detail"),
    path("<int:pk>/edit/", views.postmortem_edit, name="edit"),
    path("<int:pk>/print/", views.postmortem_print, name="print"),
    path("<int:pk>/export.md", views.postmortem_export, name="export"),
    path("<int:pk>/state/", views.postmortem_state_change, name="state_change"),
    path("<int:pk>/timeline/refresh/", views.postmortem_timeline_refresh, name="timeline_refresh"),
    path("<int:pk>/action-items/", views.action_item_add, name="action_item_add"),
    path("for-incident/<int:incident_pk>/", views.postmortem_request, name="request"),
    path("action-items/", views.ActionItemListView.as_view(), name="action_items"),
    path("action-items/bulk/", views.action_item_bulk, name="action_item_bulk"),
    path("action-items/<int:pk>/", views.action_item_detail, name="action_item_detail"),
    path("reports/", views.report, name="reports"),
    path("reviews/", views.review_list, name="review_list"),
    path("reviews/current/", views.review_current, name="review_current"),
    path("reviews/<str:week>/", views.review_detail, name="review_detail"),
    path(
        "reviews/<str:week>/items/<int:item_pk>/",
        views.review_item_update,
        name="review_item_update",
    ),
    path("reviews/<str:week>/done/", views.review_complete, name="review_complete"),
]
