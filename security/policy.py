"""Load the security parts of the ARKA policy: classes, roles, procedure, regulations."""

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert
from incidents.models import Severity

from .models import ProcedureStep, Regulation, ReminderPoint, SecurityClass, SecurityRole


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    severities = {severity.key: severity for severity in Severity.objects.all()}
    for position, entry in enumerate(policy["security_classes"], start=1):
        minimum = entry["minimum_severity"]
        policy_row_upsert(
            SecurityClass,
            lookup={"key": entry["key"]},
            values={
                "description": entry["description"],
                "examples": entry["examples"],
                "minimum_severity": severities[minimum] if minimum else None,
                "position": position,
            },
            report=report,
            label=f"security class {entry['key']}",
        )

    for position, entry in enumerate(policy["security_roles"], start=1):
        policy_row_upsert(
            SecurityRole,
            lookup={"key": entry["key"]},
            values={
                "name": entry["name"],
                "responsibility": entry["responsibility"],
                "position": position,
            },
            report=report,
            label=f"security role {entry['name']}",
        )

    for position, entry in enumerate(policy["security_procedure"], start=1):
        policy_row_upsert(
            ProcedureStep,
            lookup={"key": entry["key"]},
            values={"name": entry["name"], "text": entry["text"], "position": position},
            report=report,
            label=f"security procedure step {entry['name']}",
        )

    for position, entry in enumerate(policy["regulatory_notifications"], start=1):
        policy_row_upsert(
            Regulation,
            lookup={"key": entry["key"]},
            values={
                "name": entry["regulation"],
                "timeline": entry["timeline"],
                "deadline": parse_duration(entry["deadline"]),
                "authority": entry["authority"],
                "position": position,
            },
            report=report,
            label=f"regulation {entry['regulation']}",
        )

    for text in policy["regulatory_reminder_points"]:
        policy_row_upsert(
            ReminderPoint,
            lookup={"before": parse_duration(text)},
            values={},
            report=report,
            label=f"regulatory reminder {text} before the deadline",
        )
