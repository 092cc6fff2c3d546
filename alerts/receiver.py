"""Decide the response to one webhook request, checking in the order senders need.

The checks run cheapest first: token (401), content type (415), size (413), storm limit (503),
payload (400). Only then is the delivery stored; it is processed by a Celery worker after the
request commits. Alertmanager and Datadog treat every
4xx as final, so a 4xx is given only for a request that can never succeed. Anything transient is a
503 with Retry-After, which they retry.
"""

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from . import selectors, services
from .models import DEFAULT_MAX_BODY_BYTES, Integration, IntegrationKind
from .senders import PayloadError, parse, routing_key

logger = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)
# SNS posts its JSON envelope as text/plain.
CONTENT_TYPES = {IntegrationKind.CLOUDWATCH: ("application/json", "text/plain")}
SENTRY_SIGNATURE_HEADER = "sentry-hook-signature"


@dataclass
class WebhookResponse:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)


class Rejection(Exception):
    def __init__(self, status: int, reason: str, *, errors: dict | None = None, body=b""):
        self.status, self.reason, self.errors, self.body = status, reason, errors or {}, body
        super().__init__(reason)


def retry_later(reason: str) -> WebhookResponse:
    seconds = settings.ALERTS_RETRY_AFTER_SECONDS
    return WebhookResponse(
        status=503,
        body={"error": f"{reason} Retry in {seconds} seconds."},
        headers={"Retry-After": str(seconds)},
    )


def _bearer_token(headers: dict) -> str:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _media_type(headers: dict) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def webhook_receive(
    *,
    kind: str,
    path_token: str,
    headers: dict,
    read_body: Callable[[int], bytes],
    remote_addr: str | None,
) -> WebhookResponse:
    """Check and store one webhook request for processing; `headers` has lower-case names.

    `read_body(limit)` returns at most `limit` bytes of the body, so an oversized body is never
    read whole.
    """
    if kind not in IntegrationKind.values:
        return WebhookResponse(
            status=404,
            body={
                "error": f"No alert receiver for {kind!r}; use one of "
                f"{', '.join(IntegrationKind.values)}."
            },
        )
    integration = None
    body = b""
    try:
        token = path_token or _bearer_token(headers)
        if not token and kind == IntegrationKind.EVENTS_V2:
            # Events API v2 callers send their credential as the body's routing_key.
            body = read_body(DEFAULT_MAX_BODY_BYTES + 1)
            token = routing_key(body)
        if not token:
            raise Rejection(
                401,
                "Missing token: send it as 'Authorization: Bearer <token>' or at the end of "
                "the address (/webhooks/<kind>/<token>/).",
            )
        integration = selectors.integration_for_token(kind=kind, token=token)
        if integration is None:
            raise Rejection(401, f"Invalid token: it matches no active {kind} integration.")
        body = _checked_body(integration, headers, read_body, body)
        _signature_check(integration, headers, body)
        if selectors.integration_over_storm_limit(integration=integration, now=timezone.now()):
            services.rejected_delivery_record(
                kind=kind,
                integration=integration,
                status_code=503,
                reason=f"Storm limit of {integration.storm_limit_per_minute} deliveries per "
                "minute reached.",
                remote_addr=remote_addr,
            )
            return retry_later(
                f"Integration {integration.name!r} reached its limit of "
                f"{integration.storm_limit_per_minute} deliveries per minute."
            )
        try:
            result = parse(kind, body, headers)
        except PayloadError as error:
            raise Rejection(
                400, "Invalid payload: " + str(error), errors=error.errors, body=body
            ) from None
    except Rejection as rejection:
        services.rejected_delivery_record(
            kind=kind,
            integration=integration,
            status_code=rejection.status,
            reason=rejection.reason,
            errors=rejection.errors,
            body=rejection.body,
            remote_addr=remote_addr,
        )
        response = {"error": rejection.reason}
        if rejection.errors:
            response["errors"] = rejection.errors
        return WebhookResponse(status=rejection.status, body=response)

    delivery = services.delivery_store(
        integration=integration,
        content_type=headers.get("content-type", ""),
        headers=headers,
        body=body,
        remote_addr=remote_addr,
    )
    return _accepted(delivery, result)


def _checked_body(integration: Integration, headers: dict, read_body, body: bytes) -> bytes:
    allowed = CONTENT_TYPES.get(integration.kind, JSON_TYPES)
    media_type = _media_type(headers)
    if media_type not in allowed:
        raise Rejection(
            415,
            f"Unsupported content type {media_type or '(none)'!r}; send {' or '.join(allowed)}.",
        )
    limit = integration.max_body_bytes
    declared = headers.get("content-length", "")
    too_large = f"Body exceeds the limit of {limit} bytes for this integration."
    if declared.isdigit() and int(declared) > limit:
        raise Rejection(413, too_large)
    body = body or read_body(limit + 1)
    if len(body) > limit:
        raise Rejection(413, too_large)
    return body


def _signature_check(integration: Integration, headers: dict, body: bytes) -> None:
    if integration.kind != IntegrationKind.SENTRY:
        return
    if not integration.client_secret:
        raise Rejection(401, "This Sentry integration has no client secret; set it in the admin.")
    signature = headers.get(SENTRY_SIGNATURE_HEADER, "")
    if not signature:
        raise Rejection(401, "Missing Sentry-Hook-Signature header.")
    expected = hmac.new(integration.client_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Rejection(
            401, "Invalid Sentry-Hook-Signature: it is not the HMAC-SHA256 of the body."
        )


def _accepted(delivery, result) -> WebhookResponse:
    # Normalising, grouping and paging run in `alerts.delivery_batch_process_task`, queued on
    # commit.
    body = {"status": "accepted", "delivery_id": delivery.pk, **result.response}
    return WebhookResponse(status=202, body=body)
