"""Load the notification throttles from the policy file."""

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert

from .models import Throttle


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    for entry in policy.get("notification_throttles", []):
        policy_row_upsert(
            Throttle,
            lookup={"channel": entry["channel"]},
            values={
                "max_messages": entry["max_messages"],
                "window": parse_duration(entry["window"]),
            },
            report=report,
            label=f"throttle {entry['channel']}",
        )
