import django_tables2 as tables

from incidents.templatetags.incident_tags import local_time

from .models import Runbook


class RunbookTable(tables.Table):
    title = tables.Column(linkify=True)
    trigger = tables.Column()
    alert_rules = tables.Column(empty_values=(), orderable=False, verbose_name="Alert rules")
    services = tables.Column(empty_values=(), orderable=False)
    updated_at = tables.Column(verbose_name="Last edited")

    class Meta:
        model = Runbook
        fields = ()
        sequence = ("title", "trigger", "alert_rules", "services", "updated_at")
        order_by = ("title",)
        attrs = {"class": "data-table"}

    def render_alert_rules(self, record):
        names = [rule.rule_name for rule in record.alert_rules.all()]
        return ", ".join(names) or "—"

    def render_services(self, record):
        return ", ".join(service.name for service in record.services.all()) or "—"

    def render_updated_at(self, value):
        return local_time(value)
