"""Sentry integration webhooks: issue alerts (`event_alert`), issues and metric alerts.

The signature over the raw body is checked by the receiver before this parser runs.
"""

from .base import (
    AlertEvent,
    Errors,
    ParseResult,
    join,
    link,
    links,
    load_json,
    require_object,
    string,
    timestamp,
)

ISSUE_ACTIONS = {"created": "firing", "unresolved": "firing", "resolved": "resolved"}
METRIC_ACTIONS = {"critical": "firing", "warning": "firing", "resolved": "resolved"}


def parse_sentry(body: bytes, headers: dict) -> ParseResult:
    errors = Errors()
    data = require_object(load_json(body), "body", errors)
    errors.raise_if_any()
    resource = headers.get("sentry-hook-resource", "")
    action = string(data, "action", "", errors, required=True)
    payload = require_object(data.get("data"), "data", errors)
    errors.raise_if_any()
    if resource == "event_alert":
        return _event_alert(payload, errors)
    if resource == "issue":
        return _issue(payload, action, errors)
    if resource == "metric_alert":
        return _metric_alert(payload, action, errors)
    return ParseResult(notes=[f"Ignored Sentry resource {resource or '(none)'!r}: not an alert."])


def _tag_labels(tags, path: str, errors: Errors) -> dict:
    """Sentry sends tags as [name, value] pairs."""
    labels = {}
    if not isinstance(tags, list):
        return labels
    for index, pair in enumerate(tags):
        if isinstance(pair, list) and len(pair) == 2:
            labels[str(pair[0])] = str(pair[1])
        else:
            errors.add(join(path, index), "must be a [name, value] pair.")
    return labels


def _event_alert(payload: dict, errors: Errors) -> ParseResult:
    event = require_object(payload.get("event"), "data.event", errors)
    errors.raise_if_any()
    issue_id = string(event, "issue_id", "data.event", errors, required=True, allow_number=True)
    title = string(event, "title", "data.event", errors)
    occurred_at = timestamp(event, "datetime", "data.event", errors)
    labels = _tag_labels(event.get("tags"), "data.event.tags", errors)
    rule = string(payload, "triggered_rule", "data", errors)
    issue_alert = payload.get("issue_alert") or {}
    for setting in issue_alert.get("settings") or []:
        if isinstance(setting, dict) and setting.get("name"):
            labels[str(setting["name"])] = str(setting.get("value", ""))
    errors.raise_if_any()
    alert = AlertEvent(
        identity=f"issue:{issue_id}",
        status="firing",
        title=title or f"Sentry issue {issue_id}",
        name=rule,
        description=str(event.get("culprit") or ""),
        service=labels.get("service", ""),
        labels=labels,
        annotations={"triggered_rule": rule} if rule else {},
        links=links(link(event.get("web_url"), "Sentry event")),
        starts_at=occurred_at,
        occurred_at=occurred_at,
        severity_hint=labels.get("severity", ""),
    )
    return ParseResult(events=[alert])


def _issue(payload: dict, action: str, errors: Errors) -> ParseResult:
    issue = require_object(payload.get("issue"), "data.issue", errors)
    errors.raise_if_any()
    issue_id = string(issue, "id", "data.issue", errors, required=True, allow_number=True)
    first_seen = timestamp(issue, "firstSeen", "data.issue", errors)
    last_seen = timestamp(issue, "lastSeen", "data.issue", errors)
    errors.raise_if_any()
    status = ISSUE_ACTIONS.get(action)
    if status is None:
        return ParseResult(notes=[f"Ignored Sentry issue action {action!r}."])
    project = issue.get("project") if isinstance(issue.get("project"), dict) else {}
    labels = {"project": str(project.get("slug", ""))} if project.get("slug") else {}
    alert = AlertEvent(
        identity=f"issue:{issue_id}",
        status=status,
        title=str(issue.get("title") or f"Sentry issue {issue_id}"),
        name=str(issue.get("title") or ""),
        description=str(issue.get("culprit") or ""),
        labels=labels,
        links=links(link(issue.get("web_url"), "Sentry issue")),
        starts_at=first_seen if status == "firing" else None,
        occurred_at=last_seen,
    )
    return ParseResult(events=[alert])


def _metric_alert(payload: dict, action: str, errors: Errors) -> ParseResult:
    metric_alert = require_object(payload.get("metric_alert"), "data.metric_alert", errors)
    errors.raise_if_any()
    alert_id = string(
        metric_alert, "id", "data.metric_alert", errors, required=True, allow_number=True
    )
    errors.raise_if_any()
    status = METRIC_ACTIONS.get(action)
    if status is None:
        return ParseResult(notes=[f"Ignored Sentry metric alert action {action!r}."])
    rule = (
        metric_alert.get("alert_rule") if isinstance(metric_alert.get("alert_rule"), dict) else {}
    )
    title = str(payload.get("description_title") or metric_alert.get("title") or "")
    alert = AlertEvent(
        identity=f"metric_alert:{alert_id}",
        status=status,
        title=title or f"Sentry metric alert {alert_id}",
        name=str(rule.get("name") or title),
        description=str(payload.get("description_text") or ""),
        links=links(link(payload.get("web_url"), "Sentry metric alert")),
    )
    return ParseResult(events=[alert])
