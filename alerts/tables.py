import django_tables2 as tables
from django.template.loader import render_to_string

from .models import Alert, Delivery, Integration, RejectedDelivery


def _time(value, relative=True):
    return render_to_string("incidents/_time.html", {"value": value, "relative": relative})


class AlertTable(tables.Table):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={"input": {"name": "alert", "form": "mark-form"}, "th__input": {"hidden": True}},
        verbose_name="Select",
    )
    status = tables.Column()
    severity = tables.Column(order_by=("severity__level",))
    title = tables.Column()
    integration = tables.Column(order_by=("integration__name",))
    rule = tables.Column(order_by=("rule__name",), verbose_name="Alert rule", default="—")
    service = tables.Column(default="—")
    incident = tables.Column(order_by=("incident_id",), default="—")
    first_seen_at = tables.Column(verbose_name="First seen")
    last_seen_at = tables.Column(verbose_name="Last seen")
    repeat_count = tables.Column(verbose_name="Repeats")
    feedback = tables.Column(verbose_name="Marked", empty_values=())

    class Meta:
        model = Alert
        fields = ()
        sequence = (
            "select",
            "status",
            "severity",
            "title",
            "integration",
            "rule",
            "service",
            "incident",
            "first_seen_at",
            "last_seen_at",
            "repeat_count",
            "feedback",
        )
        order_by = ("-last_seen_at",)
        attrs = {"class": "data-table"}

    def __init__(self, *args, can_mark: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_mark = can_mark

    def render_status(self, record):
        return render_to_string("alerts/_status_badge.html", {"alert": record})

    def render_severity(self, record):
        return render_to_string("incidents/_severity_badge.html", {"severity": record.severity})

    def render_title(self, record):
        return render_to_string("alerts/_alert_title.html", {"alert": record})

    def render_integration(self, record):
        return render_to_string("alerts/_integration_link.html", {"alert": record})

    def render_incident(self, record):
        return render_to_string("alerts/_incident_link.html", {"incident": record.incident})

    def render_first_seen_at(self, value):
        return _time(value, relative=False)

    def render_last_seen_at(self, value):
        return _time(value)

    def render_repeat_count(self, record):
        return render_to_string("alerts/_repeats.html", {"alert": record})

    def render_feedback(self, record):
        return render_to_string(
            "alerts/_feedback_cell.html", {"alert": record, "can_mark": self.can_mark}
        )


class IntegrationTable(tables.Table):
    name = tables.Column(linkify=True)
    kind = tables.Column(verbose_name="Sender")
    default_severity = tables.Column(verbose_name="Default severity")
    match_mode = tables.Column(verbose_name="Rules match")
    storm_limit_per_minute = tables.Column(verbose_name="Storm limit per minute")
    alert_total = tables.Column(verbose_name="Alerts")
    rejected_total = tables.Column(verbose_name="Rejected requests")
    is_active = tables.BooleanColumn(verbose_name="Active", yesno="Active,Disabled")

    class Meta:
        model = Integration
        fields = ()
        sequence = (
            "name",
            "kind",
            "default_severity",
            "match_mode",
            "storm_limit_per_minute",
            "alert_total",
            "rejected_total",
            "is_active",
        )
        attrs = {"class": "data-table"}

    def render_default_severity(self, value):
        return render_to_string("incidents/_severity_badge.html", {"severity": value})


class RejectedDeliveryTable(tables.Table):
    received_at = tables.Column(verbose_name="Received")
    status_code = tables.Column(verbose_name="Answer")
    reason = tables.Column()
    errors = tables.Column(verbose_name="Fields", orderable=False)
    remote_addr = tables.Column(verbose_name="From", default="—")

    class Meta:
        model = RejectedDelivery
        fields = ()
        sequence = ("received_at", "status_code", "reason", "errors", "remote_addr")
        attrs = {"class": "data-table"}
        orderable = False

    def render_received_at(self, value):
        return _time(value)

    def render_errors(self, value):
        return render_to_string("alerts/_field_errors.html", {"errors": value})


class DeliveryTable(tables.Table):
    id = tables.Column(verbose_name="Delivery")
    received_at = tables.Column(verbose_name="Received")
    status = tables.Column()
    alert_count = tables.Column(verbose_name="Alerts")
    notes = tables.Column(orderable=False, empty_values=())

    class Meta:
        model = Delivery
        fields = ()
        sequence = ("id", "received_at", "status", "alert_count", "notes")
        attrs = {"class": "data-table"}
        orderable = False

    def render_received_at(self, value):
        return _time(value)

    def render_notes(self, record):
        lines = list(record.notes)
        if record.error:
            lines.append(f"Last error: {record.error}")
        return "; ".join(lines) or "—"
