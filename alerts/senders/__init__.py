"""Parsers that turn each sender's native webhook body into alert events."""

from collections.abc import Callable

from .base import AlertEvent, ParseResult, PayloadError, parse_timestamp
from .cloudwatch import parse_cloudwatch
from .datadog import parse_datadog
from .events_v2 import parse_events_v2, routing_key
from .generic import parse_generic
from .prometheus import parse_alertmanager, parse_grafana
from .sentry import parse_sentry

PARSERS: dict[str, Callable[[bytes, dict], ParseResult]] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "datadog": parse_datadog,
    "sentry": parse_sentry,
    "events-v2": parse_events_v2,
    "generic": parse_generic,
    "cloudwatch": parse_cloudwatch,
}


def parse(kind: str, body: bytes, headers: dict) -> ParseResult:
    """Parse a body of the given integration kind; raises PayloadError when it is invalid."""
    return PARSERS[kind](body, headers)


__all__ = ["AlertEvent", "ParseResult", "PayloadError", "parse", "parse_timestamp", "routing_key"]
