"""Load the communication parts of the ARKA policy: internal channels, enterprise notification
deadlines and the portal's cadence and status-page settings."""

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert

from .models import CommunicationPolicy, EnterpriseNotificationPolicy, InternalChannel


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    settings = policy["communications"]
    policy_row_upsert(
        CommunicationPolicy,
        lookup={"key": CommunicationPolicy.DEFAULT_KEY},
        values={
            "reminder_before_due": parse_duration(settings["reminder_before_due"]),
            "reminder_channels": list(settings["reminder_channels"]),
            "status_page_history": parse_duration(settings["status_page_history"]),
            "component_states": dict(settings["component_states"]),
        },
        report=report,
        label="communication policy",
    )

    enterprise = policy["enterprise_notification"]
    policy_row_upsert(
        EnterpriseNotificationPolicy,
        lookup={"key": CommunicationPolicy.DEFAULT_KEY},
        values={
            "severity_keys": list(enterprise["severities"]),
            "email_within": parse_duration(enterprise["email_within"]),
            "success_manager_call_within": parse_duration(
                enterprise["success_manager_call_within"]
            ),
            "detailed_report_within": parse_duration(enterprise["detailed_report_within"]),
        },
        report=report,
        label="enterprise notification policy",
    )

    for entry in policy["internal_communication"]:
        policy_row_upsert(
            InternalChannel,
            lookup={"key": entry["key"]},
            values={
                "audience": entry["audience"],
                "channel": entry["channel"],
                "frequency": entry["frequency"],
                "content": entry["content"],
                "sends": entry["sends"],
                "every": parse_duration(entry.get("every")),
                "severity_keys": list(entry.get("severities") or []),
            },
            report=report,
            label=f"internal channel {entry['audience']}",
        )
