"""The result type of every sender's parser, and the checks the parsers share.

A parser validates the whole body first and raises `PayloadError` with one message per bad field,
keyed by its path (`alerts[0].startsAt`), so the sender learns everything wrong in one response.
Parsers are pure: they read the body and headers and touch no database, so processing can parse a
stored delivery again and get the same events.
"""

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlparse


class PayloadError(Exception):
    """A body that can never be accepted, with a message per field path."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        # Each message is a sentence, so the joined text reads as one sentence per field.
        super().__init__(
            " ".join(
                f"{path}: {message}" if message.endswith(".") else f"{path}: {message}."
                for path, message in errors.items()
            )
        )


@dataclass
class AlertEvent:
    """One alert's state as one delivery reports it."""

    identity: str
    status: str
    title: str = ""
    name: str = ""
    description: str = ""
    service: str = ""
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    links: list = field(default_factory=list)
    # When the condition began, as the sender reports it; None when the sender omits it.
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None
    # When this report was made (a resolve's time for the generic format), if the sender sends it.
    occurred_at: datetime.datetime | None = None
    # A severity the sender's format defines (generic, Events API v2, a Sentry alert setting);
    # it applies only when no alert rule matches. Conventions such as a severity label do not count.
    severity_hint: str = ""


@dataclass
class ParseResult:
    events: list[AlertEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Extra fields for the 202 response, such as the dedup key Events API v2 callers expect.
    response: dict = field(default_factory=dict)
    # For SNS: the message type, topic and the address that confirms a subscription.
    sns: dict | None = None


class Errors:
    """Collects validation errors by field path while a parser walks the body."""

    def __init__(self):
        self.items: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.items.setdefault(path or "body", message)

    def raise_if_any(self) -> None:
        if self.items:
            raise PayloadError(self.items)


def join(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def load_json(body: bytes):
    if not body.strip():
        # Django reads no body without Content-Length unless the server marks the input as
        # terminated, as gunicorn does for a chunked request and Django's runserver does not.
        raise PayloadError(
            {"body": "is empty; send the JSON payload with a Content-Length header."}
        )
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError({"body": "is not UTF-8 text; send JSON encoded as UTF-8."}) from None
    except json.JSONDecodeError as error:
        raise PayloadError(
            {"body": f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."}
        ) from None


def require_object(value, path: str, errors: Errors) -> dict | None:
    if not isinstance(value, dict):
        errors.add(path, f"must be a JSON object, not {type_name(value)}.")
        return None
    return value


def type_name(value) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def string(
    data: dict,
    key: str,
    path: str,
    errors: Errors,
    *,
    required: bool = False,
    max_length: int | None = None,
    allow_number: bool = False,
) -> str:
    """Return data[key] as a string, or "" when absent and not required."""
    value = data.get(key)
    where = join(path, key)
    if value is None or value == "":
        if required:
            errors.add(where, "is missing.")
        return ""
    if allow_number and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(where, f"must be a string, not {type_name(value)}.")
        return ""
    if max_length is not None and len(value) > max_length:
        errors.add(where, f"is {len(value)} characters long; the maximum is {max_length}.")
        return ""
    return value


def string_map(data: dict, key: str, path: str, errors: Errors, *, required: bool = False) -> dict:
    """Return data[key] as a dict of strings; numbers and booleans are written as text."""
    value = data.get(key)
    where = join(path, key)
    if value is None:
        if required:
            errors.add(where, "is missing; expected an object of label names to values.")
        return {}
    if not isinstance(value, dict):
        errors.add(where, f"must be an object of names to strings, not {type_name(value)}.")
        return {}
    result = {}
    for name, item in value.items():
        if isinstance(item, str):
            result[name] = item
        elif isinstance(item, int | float | bool):
            result[name] = json.dumps(item)
        else:
            errors.add(join(where, name), f"must be a string, not {type_name(item)}.")
    return result


_TIMESTAMP_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(text: str) -> datetime.datetime | None:
    """Parse RFC 3339 as senders write it: up to nine fractional digits, `Z`, `+00:00` or `+0000`.

    Returns None for Go's zero time (`0001-01-01T00:00:00Z`), which Alertmanager sends for "not
    set". Raises ValueError for anything else that is not a time with a UTC offset.
    """
    match = _TIMESTAMP_RE.match(text.strip())
    if match is None:
        raise ValueError("is not an RFC 3339 time such as 2025-06-17T14:02:31Z")
    if match["offset"] is None:
        raise ValueError("has no UTC offset; add Z or an offset such as +02:00")
    if match["date"].startswith("0001-"):
        return None
    offset = match["offset"].upper()
    if offset != "Z" and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    # Python keeps microseconds: the digits after the sixth are dropped, not rounded.
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    return datetime.datetime.fromisoformat(
        f"{match['date']}T{match['time']}.{fraction}{offset.replace('Z', '+00:00')}"
    )


def timestamp(
    data: dict, key: str, path: str, errors: Errors, *, required: bool = False
) -> datetime.datetime | None:
    value = data.get(key)
    where = join(path, key)
    if value is None or value == "":
        if required:
            errors.add(where, "is missing; expected an RFC 3339 time with an offset.")
        return None
    if not isinstance(value, str):
        errors.add(where, f"must be an RFC 3339 string, not {type_name(value)}.")
        return None
    try:
        return parse_timestamp(value)
    except ValueError as error:
        errors.add(where, f"{value!r} {error}.")
        return None


def epoch_millis(value, path: str, errors: Errors) -> datetime.datetime | None:
    """Parse a time in milliseconds since the Unix epoch, as a number or a string of digits."""
    if value is None or value == "":
        return None
    try:
        millis = int(value)
    except (TypeError, ValueError):
        errors.add(path, f"{value!r} is not a time in milliseconds since 1970-01-01 UTC.")
        return None
    return datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)


def link(href, text: str = "") -> dict | None:
    """Return a link for an http or https address; other values are dropped."""
    if not isinstance(href, str) or urlparse(href).scheme not in ("http", "https"):
        return None
    return {"href": href, "text": text or href}


def links(*candidates) -> list[dict]:
    return [item for item in candidates if item is not None]


def labels_identity(labels: dict) -> str:
    """Derive an identity from the full label set, for senders that send no fingerprint."""
    encoded = json.dumps(labels, sort_keys=True, separators=(",", ":")).encode()
    return "labels:" + hashlib.sha256(encoded).hexdigest()[:40]


def bounded_identity(text: str) -> str:
    """Keep an identity within the 255 characters the database allows, hashing longer ones."""
    if len(text) <= 255:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
