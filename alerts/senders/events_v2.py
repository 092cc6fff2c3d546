"""Events API v2 (PagerDuty's format): trigger, acknowledge and resolve by dedup key."""

import hashlib

from .base import (
    AlertEvent,
    Errors,
    ParseResult,
    PayloadError,
    join,
    link,
    links,
    load_json,
    require_object,
    string,
    timestamp,
)

ACTIONS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}
SEVERITIES = ("critical", "error", "warning", "info")
SUMMARY_MAX_LENGTH = 1024


def routing_key(body: bytes) -> str:
    """Return the body's routing_key, which Events API v2 callers send as their credential."""
    try:
        data = load_json(body)
    except PayloadError:
        return ""
    value = data.get("routing_key") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def parse_events_v2(body: bytes, headers: dict) -> ParseResult:
    errors = Errors()
    data = require_object(load_json(body), "body", errors)
    errors.raise_if_any()
    action = string(data, "event_action", "", errors, required=True)
    if action and action not in ACTIONS:
        errors.add("event_action", f"{action!r} is not one of {', '.join(ACTIONS)}.")
    dedup_key = string(data, "dedup_key", "", errors, required=action != "trigger", max_length=255)
    payload = {}
    summary = severity = ""
    occurred_at = None
    if action == "trigger":
        payload = require_object(data.get("payload"), "payload", errors) or {}
        summary = string(
            payload, "summary", "payload", errors, required=True, max_length=SUMMARY_MAX_LENGTH
        )
        string(payload, "source", "payload", errors, required=True)
        severity = string(payload, "severity", "payload", errors, required=True)
        if severity and severity not in SEVERITIES:
            errors.add("payload.severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}.")
        occurred_at = timestamp(payload, "timestamp", "payload", errors)
    event_links = []
    for index, item in enumerate(data.get("links") or []):
        if not isinstance(item, dict):
            errors.add(join("links", index), "must be an object with href and text.")
            continue
        event_links.append(link(item.get("href"), str(item.get("text") or "")))
    errors.raise_if_any()

    # PagerDuty makes up a key for a trigger without one; a hash of the body keeps retries of the
    # same body one alert, and the caller gets the key back to resolve with.
    dedup_key = dedup_key or "body:" + hashlib.sha256(body).hexdigest()[:40]
    labels = {
        name: str(payload[name])
        for name in ("source", "component", "group", "class")
        if payload.get(name)
    }
    details = payload.get("custom_details")
    annotations = (
        {str(key): str(value) for key, value in details.items()}
        if isinstance(details, dict)
        else {}
    )
    event = AlertEvent(
        identity=dedup_key,
        status=ACTIONS[action],
        title=summary or dedup_key,
        name=str(payload.get("class") or ""),
        description=summary,
        service=labels.get("group") or labels.get("component", ""),
        labels=labels,
        annotations=annotations,
        links=links(*event_links, link(data.get("client_url"), str(data.get("client") or ""))),
        starts_at=occurred_at if action == "trigger" else None,
        occurred_at=occurred_at,
        severity_hint=severity or "",
    )
    return ParseResult(events=[event], response={"dedup_key": dedup_key})
