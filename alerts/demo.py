"""Demo integrations with published tokens, and demo alerts sent through the webhook code path.

Loaded by `load_demo_data`, which runs only with DEBUG on, because these tokens are public.
"""

import datetime
import hashlib
import hmac
import io
import logging
import re
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from incidents.models import Severity

from . import receiver, services
from .models import Integration, MatchMode

logger = logging.getLogger(__name__)

DEMO_PAYLOADS = Path(__file__).resolve().parent / "demo_payloads"
# Published on purpose, in the README's curl examples: demo data loads only with DEBUG on.
DEMO_SENTRY_CLIENT_SECRET = "demo-sentry-client-secret"  # noqa: S105
# kind, name, how rules match its alerts, the demo payload posted once when the demo loads. The
# Alertmanager demo alert is not the one of the README's firing and resolved examples, so those
# add an alert and resolve it.
DEMO_INTEGRATIONS = [
    ("alertmanager", "Prometheus production", MatchMode.LABELS, "alertmanager-demo.json"),
    ("grafana", "Grafana payments", MatchMode.LABELS, "grafana-firing.json"),
    ("datadog", "Datadog APM", MatchMode.NAME, "datadog-triggered.json"),
    ("sentry", "Sentry ledger", MatchMode.NAME, "sentry-event-alert.json"),
    ("events-v2", "Synthetic checker", MatchMode.NAME, "events-v2-trigger.json"),
    ("generic", "Billing cron", MatchMode.NAME, "generic-firing.json"),
    ("cloudwatch", "AWS eu-central-1", MatchMode.NAME, "cloudwatch-alarm.json"),
]


# The sample payloads were captured in 2025; their times are moved so the latest is this long ago.
DEMO_ALERT_AGE = datetime.timedelta(minutes=5)
# ISO 8601 times as senders write them: the wall-clock part, then any fraction and the offset.
# Only years 19xx and 20xx: Alertmanager's zero endsAt (year 1) means "none" and stays as it is.
ISO_TIME = re.compile(
    r"(?P<wall>(?:19|20)\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?(?P<offset>Z|[+-]\d{2}:?\d{2})"
)
# Unix times in seconds (Sentry) or milliseconds (Datadog, Grafana links) from 2017 to 2033.
EPOCH_SECONDS = re.compile(r"(?<![\d.])(?P<whole>1[5-9]\d{8})(?P<fraction>\.\d+)?(?!\d)")
EPOCH_MILLIS = re.compile(r"(?<![\d.])(?P<whole>1[5-9]\d{11})(?!\d)")
WALL_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _iso_instant(match: re.Match) -> datetime.datetime:
    offset = match["offset"].replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(match["wall"] + offset)


def demo_times_shift(body: str, *, now: datetime.datetime) -> str:
    """Move every time in a sample body by one amount, so its latest time is DEMO_ALERT_AGE ago.

    Each time keeps its written form (fraction digits, `Z` or `+0000`), so the demo still goes
    through the quirks the parsers accept.
    """
    instants = [_iso_instant(match) for match in ISO_TIME.finditer(body)]
    instants += [
        datetime.datetime.fromtimestamp(int(match["whole"]), tz=datetime.UTC)
        for match in EPOCH_SECONDS.finditer(body)
    ]
    instants += [
        datetime.datetime.fromtimestamp(int(match["whole"]) / 1000, tz=datetime.UTC)
        for match in EPOCH_MILLIS.finditer(body)
    ]
    if not instants:
        return body
    seconds = int((now - DEMO_ALERT_AGE - max(instants)).total_seconds())
    delta = datetime.timedelta(seconds=seconds)

    def iso(match: re.Match) -> str:
        wall = datetime.datetime.strptime(match["wall"], WALL_FORMAT) + delta  # noqa: DTZ007
        return wall.strftime(WALL_FORMAT) + (match["fraction"] or "") + match["offset"]

    body = ISO_TIME.sub(iso, body)
    body = EPOCH_SECONDS.sub(
        lambda match: str(int(match["whole"]) + seconds) + (match["fraction"] or ""), body
    )
    return EPOCH_MILLIS.sub(lambda match: str(int(match["whole"]) + seconds * 1000), body)


def demo_token(kind: str) -> str:
    return f"demo-{kind}-token"


def demo_alert_post(kind: str, file_name: str) -> receiver.WebhookResponse:
    """Send a demo payload, its times moved to just before now, through the webhook receiver."""
    text = (DEMO_PAYLOADS / file_name).read_text(encoding="utf-8")
    body = demo_times_shift(text, now=timezone.now()).encode("utf-8")
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
    """Create the demo integrations and post one alert to each, once; returns whether it did.

    Each delivery is processed here rather than by a worker, so the demo's incidents exist as
    soon as the command ends.
    """
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
        if response.status == 202:
            services.delivery_process(delivery_id=response.body["delivery_id"])
    return True
