"""Load the on-call parts of the ARKA policy: the rotation layers and the shift notice rules."""

import datetime

from arka_portal.policy.loader import PolicyLoadReport, parse_duration, policy_row_upsert

from .models import OnCallLayer, ShiftNoticeRule, Weekday

_WEEKDAYS = {label.lower(): value for value, label in Weekday.choices}


def _time(text: str) -> datetime.time:
    return datetime.time.fromisoformat(text)


def load_policy(policy: dict, report: PolicyLoadReport) -> None:
    on_call = policy["on_call"]
    for position, entry in enumerate(on_call["layers"], start=1):
        policy_row_upsert(
            OnCallLayer,
            lookup={"key": entry["key"]},
            values={
                "name": entry["name"],
                "position": position,
                "shift_length": parse_duration(entry["shift"]),
                "handoff_weekday": _WEEKDAYS[entry["handoff_weekday"]],
                "handoff_time": _time(entry["handoff_time"]),
                "time_zone": entry["time_zone"],
                "offset": parse_duration(entry["offset"]),
                "escalation_timeout": parse_duration(entry["escalation_timeout"]),
                "engaged_severities": list(entry["engaged_severities"]),
            },
            report=report,
            label=f"on-call layer {entry['name']}",
        )

    for entry in on_call.get("shift_notices", []):
        policy_row_upsert(
            ShiftNoticeRule,
            lookup={"key": entry["key"]},
            values={
                "name": entry["name"],
                "lead_time": parse_duration(entry["lead_time"]),
                "tells_outgoing": entry["tells_outgoing"],
                "channels": list(entry["channels"]),
            },
            report=report,
            label=f"shift notice {entry['name']}",
        )
