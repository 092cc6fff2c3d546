"""Load the policy's runbooks, each with its trigger, alert rules and Markdown body."""

from arka_portal.policy.loader import POLICY_PATH, PolicyLoadReport, policy_row_upsert

from .models import Runbook, RunbookAlertRule


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    for entry in policy["runbooks"]:
        body_path = POLICY_PATH.parent / entry["body"]
        runbook = policy_row_upsert(
            Runbook,
            lookup={"key": entry["key"]},
            values={
                "title": entry["title"],
                "trigger": entry["trigger"],
                "body": body_path.read_text(encoding="utf-8"),
            },
            report=report,
            label=f"runbook {entry['title']}",
        )
        for rule_name in entry["alert_rules"]:
            policy_row_upsert(
                RunbookAlertRule,
                lookup={"runbook": runbook, "rule_name": rule_name},
                values={},
                report=report,
                label=f"runbook {entry['title']} alert rule {rule_name}",
            )
