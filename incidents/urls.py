from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("incidents/", views.IncidentListView.as_view(), name="list"),
    path("incidents/declare/", views.incident_declare, name="declare"),
    path("incidents/acknowledge/", views.incident_bulk_acknowledge, name="bulk_acknowledge"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/severity/", views.incident_severity_change, name="severity_change"),
    path("incidents/<int:pk>/roles/", views.incident_role_assign, name="role_assign"),
    path("incidents/<int:pk>/roles/remove/", views.incident_role_unassign, name="role_unassign"),
    path("incidents/<int:pk>/checklist/", views.checklist_item_tick, name="checklist_tick"),
    path("incidents/<int:pk>/phase/", views.incident_phase_change, name="phase_change"),
    path("incidents/<int:pk>/updates/", views.status_update_post, name="update_post"),
    path("incidents/<int:pk>/notes/", views.incident_note_add, name="note_add"),
    path("incidents/<int:pk>/timeline/star/", views.timeline_entry_star, name="entry_star"),
    path("incidents/<int:pk>/acknowledge/", views.incident_acknowledge, name="acknowledge"),
    path("incidents/<int:pk>/mitigate/", views.incident_mitigate, name="mitigate"),
]
