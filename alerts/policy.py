"""Load the alert rules of the ARKA policy (its alert thresholds) into AlertRule rows."""

from decimal import Decimal

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert
from incidents.models import Severity

from .models import AlertRule

# The threshold column stores four decimal places; loading at the same precision keeps the
# loader's checksum equal to the stored row's, so an unedited rule is not reported as edited.
THRESHOLD_PLACES = Decimal("0.0001")
DEFAULT_MATCH_LABEL = "alert_rule"


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    severities = {severity.key: severity for severity in Severity.objects.all()}
    for entry in policy.get("alert_rules", []):
        name = entry["name"]
        policy_row_upsert(
            AlertRule,
            lookup={"name": name},
            values={
                "category": entry["category"],
                "metric": entry["metric"],
                "operator": entry["operator"],
                "threshold": Decimal(str(entry["threshold"])).quantize(THRESHOLD_PLACES),
                "unit": entry.get("unit") or "",
                "duration": parse_duration(entry.get("duration")),
                "severity": severities[entry["severity"]],
                "declares_incident": entry.get("declares_incident", True),
                "match_names": entry.get("match_names", [name]),
                "match_labels": entry.get("match_labels", {DEFAULT_MATCH_LABEL: name}),
            },
            report=report,
            label=f"alert rule {name}",
        )
