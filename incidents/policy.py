"""Load the incident parts of the ARKA policy: severities, matrix, criteria, roles, phases."""

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert

from .models import (
    ChecklistTemplateItem,
    Level,
    PhaseDefinition,
    ResponseRole,
    Severity,
    SeverityCriterion,
    SeverityMatrixCell,
    StatusUpdateTemplate,
)

_LEVELS = {label: value for value, label in Level.choices}


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    severities = {}
    for entry in policy["severities"]:
        severities[entry["key"]] = policy_row_upsert(
            Severity,
            lookup={"key": entry["key"]},
            values={
                "level": entry["level"],
                "name": entry["name"],
                "definition": entry["definition"],
                "response_time": parse_duration(entry["response_time"]),
                "examples": entry["examples"],
                "first_update_within": parse_duration(entry["first_update_within"]),
                "update_every": parse_duration(entry["update_every"]),
                "resolution_notice": entry["resolution_notice"],
                "postmortem_due_within": parse_duration(entry["postmortem_due_within"]),
                "postmortem_review_within": parse_duration(entry["postmortem_review_within"]),
            },
            report=report,
            label=f"severity {entry['key']}",
        )

    for impact, row in policy["impact_urgency_matrix"].items():
        for urgency, severity_key in row.items():
            policy_row_upsert(
                SeverityMatrixCell,
                lookup={"impact": _LEVELS[impact], "urgency": _LEVELS[urgency]},
                values={"severity": severities[severity_key]},
                report=report,
                label=f"matrix cell impact {impact} x urgency {urgency}",
            )

    for severity_key, texts in policy["severity_criteria"].items():
        for position, text in enumerate(texts, start=1):
            policy_row_upsert(
                SeverityCriterion,
                lookup={"severity": severities[severity_key], "position": position},
                values={"text": text},
                report=report,
                label=f"{severity_key} criterion {position}",
            )

    for position, entry in enumerate(policy["response_roles"], start=1):
        policy_row_upsert(
            ResponseRole,
            lookup={"key": entry["key"]},
            values={
                "name": entry["name"],
                "responsibility": entry["responsibility"],
                "on_call": entry["on_call"],
                "allows_multiple": entry["multiple"],
                "position": position,
            },
            report=report,
            label=f"role {entry['name']}",
        )

    for entry in policy["phases"]:
        policy_row_upsert(
            PhaseDefinition,
            lookup={"phase": entry["key"]},
            values={
                "name": entry["name"],
                "window": entry["window"] or "",
                "due_within": parse_duration(entry["due_within"]),
            },
            report=report,
            label=f"phase {entry['name']}",
        )
        for position, text in enumerate(entry["checklist"], start=1):
            policy_row_upsert(
                ChecklistTemplateItem,
                lookup={"phase": entry["key"], "position": position},
                values={"text": text},
                report=report,
                label=f"{entry['name']} checklist item {position}",
            )

    for entry in policy["status_update_templates"]:
        policy_row_upsert(
            StatusUpdateTemplate,
            lookup={"status": entry["status"]},
            values={"label": entry["label"], "body": entry["body"]},
            report=report,
            label=f"status update template {entry['label']}",
        )
