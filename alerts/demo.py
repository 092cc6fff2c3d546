"""Demo integrations with published tokens, and demo alerts sent through the webhook code path.

Loaded by `load_demo_data`, which runs only with DEBUG on, because these tokens are public.
"""

import hashlib
import hmac
import io
import logging
from pathlib import Path

from django.db import transaction

from incidents.models import Severity

from . import receiver, services
from .models import Integration, MatchMode

logger = logging.getLogger(__name__)

DEMO_PAYLOADS = Path(__file__).resolve().parent / "demo_payloads"
# Published on purpose, in the README's curl examples: demo data loads only with DEBUG on.
DEMO_SENTRY_CLIENT_SECRET = "demo-sentry-client-secret"  # noqa: S105
# kind, name, how rules match its alerts, the demo payload posted once when the demo loads
DEMO_INTEGRATIONS = [
    ("alertmanager", "Prometheus production", MatchMode.LABELS, "alertmanager-firing.json"),
    ("grafana", "Grafana payments", MatchMode.LABELS, "grafana-firing.json"),
    ("datadog", "Datadog APM", MatchMode.NAME, "datadog-triggered.json"),
    ("sentry", "Sentry ledger", MatchMode.NAME, "sentry-event-alert.json"),
    ("events-v2", "Synthetic checker", MatchMode.NAME, "events-v2-trigger.json"),
    ("generic", "Billing cron", MatchMode.NAME, "generic-firing.json"),
    ("cloudwatch", "AWS eu-central-1", MatchMode.NAME, "cloudwatch-alarm.json"),
]


def demo_token(kind: str) -> str:
    return f"demo-{kind}-token"


def demo_alert_post(kind: str, file_name: str) -> receiver.WebhookResponse:
    """Send a demo payload through the same receiver the webhook view calls."""
    body = (DEMO_PAYLOADS / file_name).read_bytes()
    content_type = "text/plain; charset=UTF-8" if kind == "cloudwatch" else "application/json"
    headers = {"content-type": content_type, "content-length": str(len(body))}
    path_token = demo_token(kind) if kind in ("sentry", "cloudwatch") else ""
    if not path_token:
        headers["authorization"] = f"Bearer {demo_token(kind)}"
    if kind == "sentry":
        secret = DEMO_SENTRY_CLIENT_SECRET.encode()
        headers["sentry-hook-resource"] = "event_alert"
        headers["sentry-hook-signature"] = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return receiver.webhook_receive(
        kind=kind,
        path_token=path_token,
        headers=headers,
        read_body=io.BytesIO(body).read,
        remote_addr="127.0.0.1",
    )


@transaction.atomic
def demo_data_load() -> bool:
    """Create the demo integrations and post one alert to each, once; returns whether it did."""
    if Integration.objects.filter(name=DEMO_INTEGRATIONS[0][1]).exists():
        return False
    default_severity = Severity.objects.get(key="SEV-4")
    for kind, name, match_mode, _ in DEMO_INTEGRATIONS:
        services.integration_create(
            actor=None,
            kind=kind,
            name=name,
            default_severity=default_severity,
            token=demo_token(kind),
            match_mode=match_mode,
            client_secret=DEMO_SENTRY_CLIENT_SECRET if kind == "sentry" else "",
        )
    for kind, _, _, file_name in DEMO_INTEGRATIONS:
        response = demo_alert_post(kind, file_name)
        logger.info("Demo %s alert got status %s", kind, response.status)
    return True
