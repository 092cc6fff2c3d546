import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html

from .models import ActionItem, Postmortem


class ActionItemTable(tables.Table):
    selection = tables.CheckBoxColumn(
        accessor="pk", attrs={"th__input": {"aria-label": "Select all rows on this page"}}
    )
    title = tables.Column(linkify=("postmortems:action_item_detail", [tables.A("pk")]))
    owner = tables.Column(order_by=("owner__username",))
    team = tables.Column(order_by=("team__name",))
    priority = tables.Column(order_by=("priority__level",))
    status = tables.Column()
    due_date = tables.Column(verbose_name="Due")
    incident = tables.Column(order_by=("incident_id",))
    severity = tables.Column(accessor="incident__severity", order_by=("incident__severity__level",))

    class Meta:
        model = ActionItem
        fields = ()
        sequence = (
            "selection",
            "title",
            "owner",
            "team",
            "priority",
            "status",
            "due_date",
            "incident",
            "severity",
        )
        order_by = ("due_date",)
        attrs = {"class": "data-table"}
        row_attrs = {"class": lambda table, record: "overdue" if table.overdue(record) else ""}

    def __init__(self, *args, today, can_manage=False, **kwargs):
        self.today = today
        if not can_manage:
            kwargs["exclude"] = ["selection"]
        super().__init__(*args, **kwargs)

    def overdue(self, record) -> int:
        return record.overdue_days(self.today)

    def render_selection(self, record):
        return format_html(
            '<input type="checkbox" name="items" value="{}" aria-label="Select {}">',
            record.pk,
            record.title,
        )

    def render_owner(self, value):
        return value.get_full_name() or value.get_username()

    def render_priority(self, value):
        return render_to_string("postmortems/_priority_badge.html", {"priority": value})

    def render_status(self, record):
        return render_to_string("postmortems/_status_badge.html", {"item": record})

    def render_due_date(self, record):
        return render_to_string(
            "postmortems/_due_date.html", {"item": record, "overdue_days": self.overdue(record)}
        )

    def render_incident(self, value):
        return format_html('<a href="{}">{}</a>', value.get_absolute_url(), value.reference)

    def render_severity(self, value):
        return render_to_string("incidents/_severity_badge.html", {"severity": value})


class PostmortemTable(tables.Table):
    incident = tables.Column(linkify=lambda record: record.get_absolute_url(), order_by=("id",))
    severity = tables.Column(accessor="incident__severity", order_by=("incident__severity__level",))
    state = tables.Column()
    author = tables.Column(order_by=("author__username",))
    due_at = tables.Column(verbose_name="Due", empty_values=())

    class Meta:
        model = Postmortem
        fields = ()
        sequence = ("incident", "severity", "state", "author", "due_at")
        order_by = ("due_at",)
        attrs = {"class": "data-table"}

    def __init__(self, *args, now, **kwargs):
        self.now = now
        super().__init__(*args, **kwargs)

    def render_incident(self, value):
        return f"{value.reference} {value.title}"

    def render_severity(self, value):
        return render_to_string("incidents/_severity_badge.html", {"severity": value})

    def render_state(self, record):
        return render_to_string("postmortems/_state_badge.html", {"postmortem": record})

    def render_author(self, value):
        return value.get_full_name() or value.get_username()

    def render_due_at(self, record):
        return render_to_string(
            "postmortems/_postmortem_due.html", {"postmortem": record, "now": self.now}
        )
