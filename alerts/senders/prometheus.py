"""Prometheus Alertmanager (webhook version 4) and Grafana alerting, which sends the same shape."""

from .base import (
    AlertEvent,
    Errors,
    ParseResult,
    join,
    labels_identity,
    link,
    links,
    load_json,
    require_object,
    string,
    string_map,
    timestamp,
)

STATUSES = ("firing", "resolved")
ALERTMANAGER_VERSION = "4"
# Grafana adds these addresses to each alert, besides Alertmanager's generatorURL.
GRAFANA_LINKS = (("dashboardURL", "Dashboard"), ("panelURL", "Panel"), ("silenceURL", "Silence"))


def parse_alertmanager(body: bytes, headers: dict) -> ParseResult:
    return _parse(body, grafana=False)


def parse_grafana(body: bytes, headers: dict) -> ParseResult:
    return _parse(body, grafana=True)


def _parse(body: bytes, *, grafana: bool) -> ParseResult:
    errors = Errors()
    data = require_object(load_json(body), "body", errors)
    errors.raise_if_any()
    version = data.get("version")
    if not grafana and version is not None and str(version) != ALERTMANAGER_VERSION:
        errors.add(
            "version",
            f"{version!r} is not supported; this endpoint takes Alertmanager webhook version "
            f"{ALERTMANAGER_VERSION}.",
        )
    group_status = data.get("status")
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        message = "is missing" if alerts is None else "must be an array"
        errors.add("alerts", f"{message}; expected an array of alerts.")
        errors.raise_if_any()
    events = [
        _event(item, join("alerts", index), group_status, errors, grafana=grafana)
        for index, item in enumerate(alerts)
    ]
    errors.raise_if_any()
    return ParseResult(events=events)


def _event(item, path: str, group_status, errors: Errors, *, grafana: bool) -> AlertEvent | None:
    alert = require_object(item, path, errors)
    if alert is None:
        return None
    # The alert's own status wins; the group's is only a fallback for senders that omit it.
    status = alert.get("status") or group_status
    if status not in STATUSES:
        errors.add(join(path, "status"), f"{status!r} is not one of {', '.join(STATUSES)}.")
    labels = string_map(alert, "labels", path, errors, required=True)
    annotations = string_map(alert, "annotations", path, errors)
    starts_at = timestamp(alert, "startsAt", path, errors, required=True)
    ends_at = timestamp(alert, "endsAt", path, errors)
    fingerprint = string(alert, "fingerprint", path, errors, max_length=255)
    generator_url = string(alert, "generatorURL", path, errors)
    if join(path, "startsAt") not in errors.items and starts_at is None:
        errors.add(join(path, "startsAt"), "is the zero time; send when the alert started.")
    extra_links = []
    if grafana:
        extra_links = [link(alert.get(key), text) for key, text in GRAFANA_LINKS]
    name = labels.get("alertname", "")
    return AlertEvent(
        identity=fingerprint or labels_identity(labels),
        status=status,
        title=annotations.get("summary") or name or "Alert without a name",
        name=name,
        description=annotations.get("description", ""),
        service=labels.get("service", ""),
        labels=labels,
        annotations=annotations,
        links=links(
            link(generator_url, "Source"),
            link(annotations.get("runbook_url"), "Runbook"),
            *extra_links,
        ),
        starts_at=starts_at,
        ends_at=ends_at,
        occurred_at=ends_at if status == "resolved" else starts_at,
    )
