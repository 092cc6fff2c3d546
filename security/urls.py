from django.urls import path

from . import views

app_name = "security"

urlpatterns = [
    path("incidents/<int:pk>/", views.security_incident_page, name="incident"),
    path("incidents/<int:pk>/mark/", views.security_incident_mark, name="mark"),
    path("incidents/<int:pk>/update/", views.security_incident_update, name="update"),
    path("incidents/<int:pk>/roles/", views.security_role_assign, name="role_assign"),
    path("incidents/<int:pk>/steps/", views.procedure_step_tick, name="step_tick"),
    path("incidents/<int:pk>/evidence/", views.evidence_item_add, name="evidence_add"),
    path(
        "incidents/<int:pk>/evidence/custody/",
        views.evidence_custody_note_add,
        name="custody_note_add",
    ),
    path(
        "incidents/<int:pk>/regulations/",
        views.regulatory_obligations_mark,
        name="regulations_mark",
    ),
    path(
        "incidents/<int:pk>/regulations/close/",
        views.regulatory_obligation_close,
        name="obligation_close",
    ),
]
