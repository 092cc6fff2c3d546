from django.urls import path

from . import views

app_name = "runbooks"

urlpatterns = [
    path("", views.RunbookListView.as_view(), name="list"),
    path("incidents/<int:pk>/steps/", views.runbook_step_run_record, name="step_run_record"),
    path("<slug:key>/", views.runbook_detail, name="detail"),
]
