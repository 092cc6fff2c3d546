from django.conf import settings
from django.db import models
from django.urls import reverse

from arka_portal.policy.loader import PolicyRow
from incidents.models import Incident, Service


class Runbook(PolicyRow):
    key = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    trigger = models.CharField(max_length=200, help_text="When to use it, for example P95 > 2s.")
    body = models.TextField(
        help_text="Markdown following the runbook template: Overview, Symptoms, Prerequisites, "
        "Steps (one '### N. Name' heading per step), Rollback, Escalation, Related."
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="runbooks", help_text="Incidents on these services."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("runbooks:detail", args=[self.key])


class RunbookAlertRule(PolicyRow):
    """An alert rule whose alerts this runbook answers, by the rule's name in the alerts app."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="alert_rules")
    rule_name = models.SlugField(max_length=100, help_text="For example high_latency_warning.")

    class Meta:
        ordering = ["runbook", "rule_name"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "rule_name"], name="runbook_rule_unique"),
        ]

    def __str__(self):
        return f"{self.runbook}: {self.rule_name}"


class RunbookStepRun(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="runbook_runs")
    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="runs")
    step_number = models.PositiveSmallIntegerField()
    step_title = models.CharField(max_length=200, help_text="The step's heading when it ran.")
    note = models.TextField(blank=True, help_text="What the step showed.")
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "run_at", "id"]
        permissions = [("record_runbookstep", "Can record a runbook step run on an incident")]

    def __str__(self):
        return f"{self.incident.reference}: {self.runbook} step {self.step_number}"
