"""Datadog webhooks rendered from the template the README gives (Datadog's $VARIABLES as JSON)."""

from .base import (
    AlertEvent,
    Errors,
    ParseResult,
    bounded_identity,
    epoch_millis,
    link,
    links,
    load_json,
    require_object,
    string,
)


def _tags(text: str) -> dict:
    """Turn Datadog's "env:prod,service:api,monitor" into labels; a bare tag gets an empty value."""
    labels = {}
    for tag in text.split(","):
        tag = tag.strip()
        if not tag:
            continue
        name, _, value = tag.partition(":")
        labels[name] = value
    return labels


def _status(transition: str) -> str:
    # Datadog sends Triggered, Re-Triggered, Warn, Re-Warn, No Data, Renotify and Recovered.
    return "resolved" if "recover" in transition.lower() else "firing"


def parse_datadog(body: bytes, headers: dict) -> ParseResult:
    errors = Errors()
    data = require_object(load_json(body), "body", errors)
    errors.raise_if_any()
    alert_id = string(data, "alert_id", "", errors, required=True, allow_number=True)
    transition = string(data, "alert_transition", "", errors, required=True)
    for key, value in (("alert_id", alert_id), ("alert_transition", transition)):
        if value.startswith("$"):
            errors.add(key, f"{value!r} is an unrendered template variable; check the template.")
    scope = string(data, "alert_scope", "", errors)
    title = string(data, "alert_title", "", errors) or string(data, "title", "", errors)
    tags = data.get("tags") or ""
    if isinstance(tags, list):
        tags = ",".join(str(tag) for tag in tags)
    elif not isinstance(tags, str):
        errors.add("tags", "must be a string of comma-separated tags or an array of tags.")
        tags = ""
    started = epoch_millis(data.get("date"), "date", errors)
    updated = epoch_millis(data.get("last_updated"), "last_updated", errors)
    errors.raise_if_any()

    labels = {**_tags(tags), **_tags(scope)}
    status = _status(transition)
    annotations = {
        key: str(data[key])
        for key in ("alert_transition", "alert_status", "alert_query", "alert_priority", "priority")
        if data.get(key)
    }
    event = AlertEvent(
        # Datadog's identity is the monitor and the scope it alerts on (multi-alert monitors).
        identity=bounded_identity(f"{alert_id}:{scope}"),
        status=status,
        title=title or f"Datadog monitor {alert_id}",
        name=title,
        description=str(data.get("text_only_msg") or data.get("body") or ""),
        service=labels.get("service", ""),
        labels=labels,
        annotations=annotations,
        links=links(link(data.get("link"), "Datadog event"), link(data.get("snapshot"), "Graph")),
        starts_at=started if status == "firing" else None,
        occurred_at=updated or started,
    )
    return ParseResult(events=[event])
