import json
from pathlib import Path

from alerts import services
from alerts.models import AlertRule, Integration
from incidents.models import Severity

PAYLOADS = Path(__file__).resolve().parent / "payloads"
SENTRY_SECRET = "example-client-secret-not-real-0000"


def payload(kind: str, name: str) -> bytes:
    return (PAYLOADS / kind / name).read_bytes()


def payload_json(kind: str, name: str):
    return json.loads(payload(kind, name))


def sentry_headers(name: str) -> dict:
    return json.loads(payload("sentry", "_headers.json"))["files"][name]


def make_integration(kind: str = "alertmanager", **fields) -> tuple[Integration, str]:
    """Create an integration through the service; returns it with its token."""
    fields.setdefault("name", f"{kind} test")
    fields.setdefault("default_severity", Severity.objects.get(key="SEV-4"))
    if kind == "sentry":
        fields.setdefault("client_secret", SENTRY_SECRET)
    return services.integration_create(actor=None, kind=kind, **fields)


def rule_names_add(rule_name: str, *names: str) -> AlertRule:
    """Let a policy rule match more alert names, as an admin would in the admin."""
    rule = AlertRule.objects.get(name=rule_name)
    rule.match_names = [*rule.match_names, *names]
    rule.save(update_fields=["match_names"])
    return rule
