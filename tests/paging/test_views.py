import datetime
import hashlib
import hmac
import json

import pytest
import time_machine
from django.urls import reverse

from incidents.models import Source, TimelineEntry
from notifications.models import Channel
from paging.links import acknowledge_token_make
from paging.models import Escalation, EscalationPage, EscalationTrigger, StopReason

from .factories import START, contact_method_add, declare_sev1, minutes

pytestmark = pytest.mark.django_db
WEBHOOK_SECRET = "webhook-secret-for-tests"


def _ack_url(incident, user) -> str:
    return reverse(
        "paging:acknowledge_link", args=[acknowledge_token_make(incident=incident, user=user)]
    )


def test_link_get_shows_confirm_only(client, on_call, people):
    incident = declare_sev1()

    response = client.get(_ack_url(incident, people["primary"]))

    incident.refresh_from_db()
    assert response.status_code == 200
    assert b"Acknowledge INC-" in response.content
    assert incident.acknowledged_at is None


def test_link_post_acknowledges_as_paged_person(client, on_call, people):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1()
        traveller.move_to(START + minutes(4))

        response = client.post(_ack_url(incident, people["primary"]))

    incident.refresh_from_db()
    entry = TimelineEntry.objects.get(incident=incident, kind=TimelineEntry.Kind.ACKNOWLEDGED)
    assert response.status_code == 200
    assert incident.acknowledged_at == START + minutes(4)
    assert entry.actor == people["primary"]
    assert entry.source == Source.EMAIL_LINK
    assert Escalation.objects.get(incident=incident).stop_reason == StopReason.ACKNOWLEDGED


def test_link_expired_rejected(client, on_call, people, settings):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1()
        url = _ack_url(incident, people["primary"])
        traveller.move_to(
            START + datetime.timedelta(seconds=settings.PAGING_ACKNOWLEDGE_LINK_MAX_AGE + 1)
        )

        response = client.post(url)

    incident.refresh_from_db()
    assert response.status_code == 400
    assert b"expired" in response.content
    assert incident.acknowledged_at is None


def test_link_tampered_rejected(client, on_call, people):
    incident = declare_sev1()
    url = _ack_url(incident, people["primary"])

    response = client.post(url[:-3] + "abc/")

    assert response.status_code == 400
    assert b"invalid" in response.content


def _signed_post(client, body: dict, *, secret: str = WEBHOOK_SECRET):
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        reverse("paging:pagerduty_webhook"),
        data=raw,
        content_type="application/json",
        headers={"X-PagerDuty-Signature": f"v1=stale,v1={signature}"},
    )


def _ack_event(incident, agent_id="PUSER01"):
    return {
        "event": {
            "id": "01ABCDEF",
            "event_type": "incident.acknowledged",
            "resource_type": "incident",
            "agent": {"id": agent_id, "summary": "Primary Person", "type": "user_reference"},
            "data": {
                "id": "Q1PD",
                "type": "incident",
                "incident_key": f"arka-incident-{incident.pk}",
                "status": "acknowledged",
            },
        }
    }


def test_pagerduty_ack_recorded_for_mapped_user(client, on_call, people, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = WEBHOOK_SECRET
    contact_method_add(people["primary"], Channel.PAGERDUTY, "PUSER01")
    incident = declare_sev1()

    response = _signed_post(client, _ack_event(incident))

    entry = TimelineEntry.objects.get(incident=incident, kind=TimelineEntry.Kind.ACKNOWLEDGED)
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert entry.actor == people["primary"]
    assert entry.source == Source.WEBHOOK


def test_pagerduty_ack_unknown_agent_noted(client, on_call, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = WEBHOOK_SECRET
    incident = declare_sev1()

    response = _signed_post(client, _ack_event(incident, agent_id="PNOBODY"))

    incident.refresh_from_db()
    assert response.status_code == 200
    assert incident.acknowledged_at is not None
    assert TimelineEntry.objects.filter(
        incident=incident, message__contains="Primary Person (PagerDuty user PNOBODY)"
    ).exists()


def test_pagerduty_bad_signature_rejected(client, on_call, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = WEBHOOK_SECRET
    incident = declare_sev1()

    response = _signed_post(client, _ack_event(incident), secret="wrong-secret")

    incident.refresh_from_db()
    assert response.status_code == 403
    assert "error" in response.json()
    assert incident.acknowledged_at is None


def test_pagerduty_unconfigured_rejected(client, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = ""

    response = client.post(reverse("paging:pagerduty_webhook"), data={})

    assert response.status_code == 503
    assert "PAGERDUTY_WEBHOOK_SECRET" in response.json()["error"]


def test_pagerduty_other_event_ignored(client, on_call, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = WEBHOOK_SECRET
    incident = declare_sev1()
    event = _ack_event(incident)
    event["event"]["event_type"] = "incident.resolved"

    response = _signed_post(client, event)

    assert response.status_code == 202


def test_pagerduty_unknown_incident_404(client, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = WEBHOOK_SECRET
    event = {"event": {"event_type": "incident.acknowledged", "data": {"incident_key": "x-1"}}}

    response = _signed_post(client, event)

    assert response.status_code == 404


def test_escalate_pages_next_level(client, on_call, people):
    manager = people["management"]
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1(actor=manager)
        traveller.move_to(START + minutes(5))
        client.force_login(manager)
        trigger = EscalationTrigger.objects.get(key="expertise")

        response = client.post(
            reverse("paging:escalate", args=[incident.pk]),
            {"trigger": trigger.pk, "note": "Need the database team"},
        )

    escalation = Escalation.objects.get(incident=incident)
    page = EscalationPage.objects.get(escalation=escalation, step=1)
    assert response.status_code == 302
    assert page.recipient == people["secondary"]
    assert page.trigger == trigger
    assert escalation.next_step == 2
    assert escalation.next_due_at == START + minutes(30)
    assert TimelineEntry.objects.filter(
        incident=incident, actor=manager, message__contains="Additional expertise required"
    ).exists()


def test_escalate_needs_permission(client, on_call):
    from tests.incidents.factories import viewer_user

    incident = declare_sev1()
    client.force_login(viewer_user())
    trigger = EscalationTrigger.objects.get(key="expertise")

    response = client.post(reverse("paging:escalate", args=[incident.pk]), {"trigger": trigger.pk})

    assert response.status_code == 403


def test_page_suggests_escalation_without_progress(client, on_call, people):
    manager = people["management"]
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1(actor=manager)
        client.force_login(manager)
        traveller.move_to(START + minutes(29))
        early = client.get(incident.get_absolute_url())
        traveller.move_to(START + minutes(31))

        late = client.get(incident.get_absolute_url())

    assert b'id="escalation-suggestion"' not in early.content
    assert b'id="escalation-suggestion"' in late.content


def test_page_shows_deadline_and_next_step(client, on_call, people):
    manager = people["management"]
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1(actor=manager)
        client.force_login(manager)
        traveller.move_to(START + minutes(5))

        response = client.get(incident.get_absolute_url())

    content = response.content.decode()
    assert "Acknowledge by 2026-03-02 10:15 UTC" in content
    assert "in 10 min" in content
    assert "Next: step 2, Secondary on call, at 2026-03-02 10:15 UTC" in content


def test_page_shows_missed_deadline(client, on_call, people):
    from paging import services

    manager = people["management"]
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1(actor=manager)
        client.force_login(manager)
        traveller.move_to(START + minutes(20))
        services.escalation_sweep()

        response = client.get(incident.get_absolute_url())

    assert "MISSED: not acknowledged 5 min after the response deadline" in response.content.decode()


def test_page_query_count_flat(client, on_call, people, django_assert_max_num_queries):
    from paging import services

    manager = people["management"]
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1(actor=manager)
        client.force_login(manager)
        client.get(incident.get_absolute_url())
        with django_assert_max_num_queries(60) as few:
            client.get(incident.get_absolute_url())
        traveller.move_to(START + minutes(46))
        services.escalation_sweep()

        with django_assert_max_num_queries(60) as many:
            client.get(incident.get_absolute_url())

    assert len(many.captured_queries) == len(few.captured_queries)


def test_page_renders_nobody_on_call(client, people, monkeypatch):
    monkeypatch.setattr("oncall.selectors.layer_on_call_get", lambda **kwargs: None)
    manager = people["management"]
    incident = declare_sev1(actor=manager)
    client.force_login(manager)

    response = client.get(incident.get_absolute_url())

    assert "Paged nobody (no one set)" in response.content.decode()
