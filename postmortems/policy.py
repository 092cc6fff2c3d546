"""Load the post-incident parts of the ARKA policy: template sections, priorities, tracking."""

import datetime

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert

from .models import ActionItemPriority, PostmortemSettings, TemplateSection, TrackingCadence
from .schedule import WEEKDAYS


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    for position, entry in enumerate(policy["postmortem_template"], start=1):
        policy_row_upsert(
            TemplateSection,
            lookup={"key": entry["key"]},
            values={"heading": entry["heading"], "prompt": entry["prompt"], "position": position},
            report=report,
            label=f"post-mortem section {entry['heading']}",
        )

    for level, key in enumerate(policy["action_item_priorities"], start=1):
        policy_row_upsert(
            ActionItemPriority,
            lookup={"key": key},
            values={"level": level},
            report=report,
            label=f"action item priority {key}",
        )

    for key, covers in policy["action_item_tracking"].items():
        policy_row_upsert(
            TrackingCadence,
            lookup={"key": key},
            values={"covers": covers},
            report=report,
            label=f"action item tracking {key}",
        )

    schedule = policy["weekly_review_schedule"]
    policy_row_upsert(
        PostmortemSettings,
        lookup={"pk": 1},
        values={
            "reminder_before": parse_duration(policy["postmortem_reminder_before"]),
            "review_weekday": WEEKDAYS.index(schedule["day_of_week"]),
            "review_time": datetime.time.fromisoformat(schedule["time"]),
            "review_time_zone": schedule["time_zone"],
        },
        report=report,
        label="post-mortem settings",
    )
