"""From alert to incident: rules give severity, groups join one open incident, resolves are noted."""

import datetime
import json

import pytest

from alerts.models import Alert, AlertRule, AlertStatus
from incidents import effects
from incidents.models import ChecklistItem, Incident, Phase, Source, TimelineEntry
from tests.incidents.factories import ServiceFactory, commander_user

from .factories import make_integration, payload, payload_json, rule_names_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def declared(monkeypatch):
    """Record each call of the incident_declared effect, which starts escalation and routing."""
    calls = []
    original = effects.incident_declared

    def spy(*, incident, actor):
        calls.append(incident.pk)
        original(incident=incident, actor=actor)

    monkeypatch.setattr(effects, "incident_declared", spy)
    return calls


def _checkout_alert(*, service="checkout-api", fingerprint="a9bc3b1d431c06e9"):
    body = payload_json("alertmanager", "01_firing_single.json")
    body["alerts"][0]["labels"]["service"] = service
    body["alerts"][0]["fingerprint"] = fingerprint
    return json.dumps(body)


def test_sev1_rule_match_declares_sev1_incident(post, declared):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    ServiceFactory(name="checkout-api", slug="checkout-api")
    _, token = make_integration("alertmanager")

    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    alert = Alert.objects.get()
    incident = Incident.objects.get()
    assert alert.incident == incident
    assert alert.rule.name == "error_rate_critical"
    assert incident.severity.key == "SEV-1"
    assert incident.phase == Phase.DETECT
    assert "error_rate_critical" in incident.severity_reason
    assert list(incident.services.values_list("slug", flat=True)) == ["checkout-api"]
    assert declared == [incident.pk]
    declared_entry = incident.timeline.get(kind=TimelineEntry.Kind.DECLARED)
    assert declared_entry.source == Source.WEBHOOK


def test_alert_ticks_alert_received_item(post):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")

    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    item = ChecklistItem.objects.get(phase=Phase.DETECT, text__startswith="Alert received")
    assert item.is_ticked
    assert item.ticked_by is None
    assert f"Alert {Alert.objects.get().pk}" in item.evidence


def test_unmatched_alert_uses_default_severity(post):
    _, token = make_integration("alertmanager")

    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    alert = Alert.objects.get()
    assert alert.rule is None
    assert alert.severity.key == "SEV-4"
    assert not Incident.objects.exists()


def test_rule_without_incident_only_sets_severity(post):
    rule = rule_names_add("disk_space", "DiskWillFillIn4Hours")
    AlertRule.objects.filter(pk=rule.pk).update(declares_incident=False)
    _, token = make_integration("alertmanager")

    post(
        "alertmanager", payload("alertmanager", "03_group_mixed_firing_resolved.json"), token=token
    )

    assert set(Alert.objects.values_list("severity__key", flat=True)) == {"SEV-3"}
    assert not Incident.objects.exists()


def test_match_by_labels(post):
    _, token = make_integration("generic", match_mode="labels")
    body = payload_json("generic", "01_firing.json")
    body["labels"]["alert_rule"] = "memory_pressure"

    post("generic", json.dumps(body), token=token)

    assert Alert.objects.get().rule.name == "memory_pressure"
    assert Incident.objects.get().severity.key == "SEV-2"


def test_same_service_and_rule_join_open_incident(post, declared):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")

    post("alertmanager", _checkout_alert(fingerprint="aaaa"), token=token)
    post("alertmanager", _checkout_alert(fingerprint="bbbb"), token=token)

    incident = Incident.objects.get()
    assert set(Alert.objects.values_list("incident", flat=True)) == {incident.pk}
    assert declared == [incident.pk]
    assert incident.timeline.filter(message__startswith="1 alert joined").count() == 1


def test_other_service_opens_other_incident(post):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")

    post("alertmanager", _checkout_alert(service="checkout-api", fingerprint="aaaa"), token=token)
    post("alertmanager", _checkout_alert(service="ledger", fingerprint="bbbb"), token=token)

    assert Incident.objects.count() == 2


def test_storm_pages_once(post, declared):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")
    body = payload_json("alertmanager", "01_firing_single.json")
    template = body["alerts"][0]
    body["alerts"] = []
    for number in range(40):
        alert = json.loads(json.dumps(template))
        alert["fingerprint"] = f"storm-{number:03d}"
        alert["labels"]["pod"] = f"checkout-{number}"
        body["alerts"].append(alert)

    for _ in range(3):
        post("alertmanager", json.dumps(body), token=token)

    assert Alert.objects.count() == 40
    assert Incident.objects.count() == 1
    assert len(declared) == 1
    joined = Incident.objects.get().timeline.filter(message__startswith="39 alerts joined")
    assert joined.count() == 1


def test_resolve_recorded_on_timeline_only(post):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    post("alertmanager", payload("alertmanager", "02_resolved_single.json"), token=token)

    incident = Incident.objects.get()
    assert incident.is_open
    assert incident.timeline.filter(message__startswith="Alert resolved").count() == 1


def test_firing_after_incident_resolved_opens_new(post):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")
    post("alertmanager", _checkout_alert(fingerprint="aaaa"), token=token)
    Incident.objects.update(resolved_at=Incident.objects.get().declared_at, phase=Phase.RESOLVE)

    post("alertmanager", _checkout_alert(fingerprint="bbbb"), token=token)

    assert Incident.objects.count() == 2
    assert Incident.objects.filter(resolved_at__isnull=True).count() == 1


def test_events_v2_acknowledge_acknowledges_incident(post):
    rule_names_add("database_connections", "replication lag")
    _, token = make_integration("events-v2")
    post("events-v2", payload("events-v2", "01_trigger.json"), token=token)

    post("events-v2", payload("events-v2", "03_acknowledge.json"), token=token)

    incident = Incident.objects.get()
    assert incident.acknowledged_at is not None
    assert Alert.objects.get().status == AlertStatus.ACKNOWLEDGED


def test_incident_page_lists_alerts(post, client):
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)
    client.force_login(commander_user())

    response = client.get(Incident.objects.get().get_absolute_url())

    assert response.status_code == 200
    assert "checkout-api 5xx ratio above 5% for 10m" in response.content.decode()
    assert 'id="alerts-heading"' in response.content.decode()


def test_sev1_match_starts_sev1_escalation_and_routing(post):
    from notifications.models import Channel, ContactMethod, Message
    from tests.oncall.factories import rotation_with

    rotation = rotation_with("priya", start_date=datetime.date(2020, 1, 5))
    primary = rotation.members.get().user
    ContactMethod.objects.create(user=primary, channel=Channel.PHONE, address="+4930123456")
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")

    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    incident = Incident.objects.get()
    first_step_channels = set(
        Message.objects.filter(incident=incident, dedup_key__startswith="paging:").values_list(
            "channel", flat=True
        )
    )
    assert incident.escalation.severity_key == "SEV-1"
    assert incident.escalation.pages.get().recipient == primary
    assert first_step_channels == {"pagerduty", "phone", "slack", "email"}


def test_latency_alert_incident_shows_latency_runbook(post):
    from runbooks.selectors import incident_alert_rule_names, runbook_for_incident_list

    rule_names_add("high_latency_warning", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")

    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)

    incident = Incident.objects.get()
    runbooks = runbook_for_incident_list(
        incident, alert_rule_names=incident_alert_rule_names(incident)
    )
    assert [runbook.title for runbook in runbooks][:1] == ["API High Latency"]


def test_postmortem_timeline_starts_with_alert(post):
    from incidents import services as incident_services

    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    _, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "01_firing_single.json"), token=token)
    incident = Incident.objects.get()
    commander = commander_user()
    incident_services.incident_role_assign(
        actor=commander,
        incident=incident,
        role=incident.role_assignments.model.role.field.related_model.objects.get(
            key="incident_commander"
        ),
        user=commander,
    )
    for phase in (Phase.TRIAGE, Phase.RESPOND, Phase.RESOLVE):
        incident_services.incident_phase_change(
            actor=commander, incident=incident, phase=phase, confirm_skip=True
        )

    first_event = incident.postmortem.timeline.first()
    assert first_event.event == "Alert triggered"
