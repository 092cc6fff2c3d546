"""Load the paging parts of the ARKA policy: alert routing, escalation contacts, escalation
policies and the manual escalation triggers."""

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert
from incidents.models import Severity

from .models import (
    AlertRoute,
    EscalationContact,
    EscalationPolicy,
    EscalationStep,
    EscalationTrigger,
    NoProgressThreshold,
)


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    severities = {severity.key: severity for severity in Severity.objects.all()}
    _load_alert_routing(policy, severities, report)
    contacts = _load_escalation_contacts(policy, report)
    _load_escalation_policies(policy, severities, contacts, report)
    _load_triggers(policy, severities, report)


def _load_alert_routing(policy, severities, report) -> None:
    for severity_key, routes in policy["alert_routing"].items():
        for position, route in enumerate(routes, start=1):
            policy_row_upsert(
                AlertRoute,
                lookup={"severity": severities[severity_key], "position": position},
                values={"channel": route["channel"], "target": route.get("target") or ""},
                report=report,
                label=f"{severity_key} alert route {position}",
            )


def _load_escalation_contacts(policy, report) -> dict[str, EscalationContact]:
    contacts = {}
    for entry in policy["escalation_contacts"]:
        contacts[entry["key"]] = policy_row_upsert(
            EscalationContact,
            lookup={"key": entry["key"]},
            values={
                "level": entry["level"],
                "role": entry["role"],
                "contact_methods": list(entry["contact_methods"]),
                "severities": list(entry.get("severities") or []),
            },
            report=report,
            label=f"escalation contact {entry['level']} {entry['role']}",
        )
    return contacts


def _load_escalation_policies(policy, severities, contacts, report) -> None:
    layer_targets = policy["escalation_layer_targets"]
    for severity_key, steps in policy["escalation_policies"].items():
        escalation_policy = policy_row_upsert(
            EscalationPolicy,
            lookup={"severity": severities[severity_key]},
            values={},
            report=report,
            label=f"escalation policy {severity_key}",
        )
        for position, step in enumerate(steps, start=1):
            target = step["target"]
            if target in layer_targets:
                values = {"target_layer": layer_targets[target], "target_contact": None}
            elif target in contacts:
                values = {"target_layer": "", "target_contact": contacts[target]}
            else:
                raise ValueError(
                    f"escalation target {target!r} of {severity_key} is neither in "
                    "escalation_layer_targets nor an escalation_contacts key"
                )
            policy_row_upsert(
                EscalationStep,
                lookup={"policy": escalation_policy, "position": position},
                values={"delay": parse_duration(step["delay"]), **values},
                report=report,
                label=f"{severity_key} escalation step {position}",
            )


def _load_triggers(policy, severities, report) -> None:
    for position, entry in enumerate(policy["manual_escalation_triggers"], start=1):
        policy_row_upsert(
            EscalationTrigger,
            lookup={"key": entry["key"]},
            values={"text": entry["text"], "position": position},
            report=report,
            label=f"escalation trigger {entry['key']}",
        )
        for severity_key, after in (entry.get("no_progress_after") or {}).items():
            policy_row_upsert(
                NoProgressThreshold,
                lookup={"severity": severities[severity_key]},
                values={"after": parse_duration(after)},
                report=report,
                label=f"{severity_key} no-progress threshold",
            )
