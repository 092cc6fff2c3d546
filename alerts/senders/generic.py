"""The portal's own generic alert JSON, version 1, for monitors without a native format.

A body is one event or an array of events, validated as a whole, so a batch is stored all or
nothing and a retried batch changes nothing twice.
"""

import re
from urllib.parse import urlparse

from .base import (
    AlertEvent,
    Errors,
    ParseResult,
    join,
    load_json,
    require_object,
    string,
    string_map,
    timestamp,
    type_name,
)

SCHEMA = "incident-portal.generic/v1"
STATUSES = ("firing", "resolved", "acknowledged")
SEVERITY_WORDS = ("critical", "error", "warning", "info")
SEVERITY_KEY_RE = re.compile(r"^SEV-[1-4]$")
MAX_BATCH = 100
MAX_LABELS = 128
MAX_LABEL_NAME_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 1024
MAX_DESCRIPTION_LENGTH = 64 * 1024


def parse_generic(body: bytes, headers: dict) -> ParseResult:
    errors = Errors()
    data = load_json(body)
    if isinstance(data, list):
        if not data:
            errors.add("body", "is an empty array; send at least one event.")
        if len(data) > MAX_BATCH:
            errors.add("body", f"has {len(data)} events; the maximum per request is {MAX_BATCH}.")
        errors.raise_if_any()
        items = [(join("", index), item) for index, item in enumerate(data)]
    else:
        items = [("", data)]
    events = [_event(item, path, errors) for path, item in items]
    errors.raise_if_any()
    return ParseResult(events=events)


def _event(item, path: str, errors: Errors) -> AlertEvent | None:
    event = require_object(item, path or "body", errors)
    if event is None:
        return None
    schema = string(event, "schema", path, errors, required=True)
    if schema and schema != SCHEMA:
        errors.add(join(path, "schema"), f"{schema!r} is not supported; use {SCHEMA!r}.")
    string(event, "source", path, errors, required=True, max_length=100)
    dedup_key = string(event, "dedup_key", path, errors, required=True, max_length=255)
    status = string(event, "status", path, errors, required=True)
    if status and status not in STATUSES:
        errors.add(join(path, "status"), f"{status!r} is not one of {', '.join(STATUSES)}.")
    firing = status == "firing"
    severity = string(event, "severity", path, errors, required=firing)
    if severity and severity not in SEVERITY_WORDS and not SEVERITY_KEY_RE.match(severity):
        errors.add(
            join(path, "severity"),
            f"{severity!r} is not SEV-1 to SEV-4 or one of {', '.join(SEVERITY_WORDS)}.",
        )
    title = string(event, "title", path, errors, required=firing, max_length=255)
    description = string(event, "description", path, errors, max_length=MAX_DESCRIPTION_LENGTH)
    service = string(event, "service", path, errors, max_length=100)
    occurred_at = timestamp(event, "occurred_at", path, errors, required=True)
    labels = _labels(event, path, errors)
    links = _links(event, path, errors)
    return AlertEvent(
        identity=dedup_key,
        status=status,
        title=title or dedup_key,
        name=labels.get("alertname") or title,
        description=description,
        service=service,
        labels=labels,
        links=links,
        starts_at=occurred_at if firing else None,
        occurred_at=occurred_at,
        severity_hint=severity,
    )


def _labels(event: dict, path: str, errors: Errors) -> dict:
    labels = string_map(event, "labels", path, errors)
    where = join(path, "labels")
    if len(labels) > MAX_LABELS:
        errors.add(where, f"has {len(labels)} labels; the maximum is {MAX_LABELS}.")
    for name, value in labels.items():
        if len(name) > MAX_LABEL_NAME_LENGTH:
            errors.add(join(where, name[:40]), f"name is longer than {MAX_LABEL_NAME_LENGTH}.")
        if len(value) > MAX_LABEL_VALUE_LENGTH:
            errors.add(join(where, name), f"is longer than {MAX_LABEL_VALUE_LENGTH} characters.")
    return labels


def _links(event: dict, path: str, errors: Errors) -> list[dict]:
    value = event.get("links")
    where = join(path, "links")
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(where, f"must be an array of links, not {type_name(value)}.")
        return []
    result = []
    for index, item in enumerate(value):
        item_path = join(where, index)
        if not isinstance(item, dict):
            errors.add(item_path, "must be an object with href and text.")
            continue
        href = item.get("href")
        if not isinstance(href, str) or urlparse(href).scheme not in ("http", "https"):
            errors.add(join(item_path, "href"), f"{href!r} is not an http or https address.")
            continue
        result.append({"href": href, "text": str(item.get("text") or href)})
    return result
