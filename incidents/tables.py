import django_tables2 as tables
from django.template.loader import render_to_string

from .models import Incident


class IncidentTable(tables.Table):
    selected = tables.CheckBoxColumn(
        accessor="pk", verbose_name="Select", attrs={"input": {"form": "bulk-form"}}
    )
    reference = tables.Column(accessor="pk", verbose_name="ID", linkify=True, order_by=("id",))
    severity = tables.Column(order_by=("severity__level",))
    title = tables.Column(linkify=True)
    phase = tables.Column()
    commander = tables.Column(empty_values=(), orderable=False, verbose_name="Commander")
    declared_at = tables.Column(verbose_name="Age", empty_values=())
    next_update_due_at = tables.Column(verbose_name="Next update", empty_values=())
    last_activity_at = tables.Column(verbose_name="Last update")

    class Meta:
        model = Incident
        fields = ()
        sequence = (
            "selected",
            "reference",
            "severity",
            "title",
            "phase",
            "commander",
            "declared_at",
            "next_update_due_at",
            "last_activity_at",
        )
        order_by = ("severity", "-declared_at")
        attrs = {"class": "data-table"}

    def render_reference(self, record):
        return record.reference

    def render_severity(self, record):
        return render_to_string("incidents/_severity_badge.html", {"severity": record.severity})

    def render_phase(self, record):
        return render_to_string("incidents/_phase_badge.html", {"incident": record})

    def render_commander(self, record):
        assignments = getattr(record, "commander_assignments", [])
        return assignments[0].user.get_username() if assignments else "—"

    def render_declared_at(self, record):
        return render_to_string("incidents/_age.html", {"incident": record})

    def render_next_update_due_at(self, record):
        return render_to_string("incidents/_update_due.html", {"incident": record})

    def render_last_activity_at(self, value):
        return render_to_string("incidents/_time.html", {"value": value, "relative": True})
