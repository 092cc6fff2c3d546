"""Reads for the runbook catalog and for matching runbooks to an incident.

Other apps call `runbook_for_incident_list(incident, alert_rule_names=...)`, passing the names of
the alert rules whose alerts are linked to the incident (the alerts app keys rules by name).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from incidents.models import Incident

from .models import Runbook, RunbookAlertRule, RunbookStepRun

# A step is a third-level heading numbered as in the runbook template: "### 1. Verify the Issue".
_STEP_HEADING_RE = re.compile(r"^###\s+(\d+)\.\s+(.+?)\s*#*\s*$", re.MULTILINE)
_STEPS_SECTION_RE = re.compile(r"^##\s+Steps\s*$(.*?)(?=^##\s+\S|\Z)", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class RunbookStep:
    number: int
    title: str


def runbook_list() -> QuerySet[Runbook]:
    return Runbook.objects.prefetch_related(
        Prefetch("alert_rules", queryset=RunbookAlertRule.objects.order_by("rule_name")),
        "services",
    ).order_by("title")


def runbook_get(*, key: str) -> Runbook:
    """Return one runbook by key; raises Runbook.DoesNotExist."""
    return runbook_list().get(key=key)


def runbook_step_list(runbook: Runbook) -> list[RunbookStep]:
    """Return the numbered steps under the body's "## Steps" heading, in the body's order."""
    section = _STEPS_SECTION_RE.search(runbook.body)
    if section is None:
        return []
    return [
        RunbookStep(number=int(number), title=title.strip())
        for number, title in _STEP_HEADING_RE.findall(section.group(1))
    ]


def runbook_for_incident_list(
    incident: Incident, *, alert_rule_names: Iterable[str] = ()
) -> list[Runbook]:
    """Return the runbooks for the incident's services or for the given alert rule names.

    Runbooks matched by an alert rule come first, because an alert is the more specific signal.
    """
    rule_names = sorted(set(alert_rule_names))
    service_ids = list(incident.services.values_list("pk", flat=True))
    condition = Q(alert_rules__rule_name__in=rule_names) | Q(services__in=service_ids)
    runbooks = list(runbook_list().filter(condition).distinct())
    by_rule = {
        runbook.pk
        for runbook in runbooks
        if any(rule.rule_name in rule_names for rule in runbook.alert_rules.all())
    }
    return sorted(runbooks, key=lambda runbook: (runbook.pk not in by_rule, runbook.title))


def incident_alert_rule_names(incident: Incident) -> list[str]:
    """Return the names of the alert rules whose alerts opened or joined the incident.

    TODO: read them from the alerts app once it is merged; until then matching on the incident
    page uses the incident's services only.
    """
    return []


def runbook_step_run_list(*, incident: Incident) -> QuerySet[RunbookStepRun]:
    return incident.runbook_runs.select_related("runbook", "run_by").order_by("run_at", "id")
