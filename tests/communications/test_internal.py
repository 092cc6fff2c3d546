import datetime

import pytest
import time_machine
from django.urls import reverse

from communications import selectors, services
from incidents import services as incident_services
from incidents.models import Phase
from notifications.models import Message
from tests.communications.factories import declare_sev1
from tests.incidents.factories import commander_user, declare_incident

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def commander():
    return commander_user(username="ic")


@pytest.fixture
def sev1(commander):
    with time_machine.travel(START, tick=False):
        return declare_sev1(actor=commander, commander=commander)


def _messages_to(channel):
    return Message.objects.filter(target=channel).order_by("created_at", "pk")


def test_declaration_posted_to_engineering(sev1):
    message = _messages_to("#engineering").get()

    assert message.subject == f"{sev1.reference} Declared SEV-1: {sev1.title}"


def test_phase_change_posted_to_engineering(sev1, commander):
    incident_services.incident_phase_change(
        actor=commander, incident=sev1, phase=Phase.TRIAGE, confirm_skip=True
    )

    assert "Phase changed from Detect to Triage" in _messages_to("#engineering").last().body


def test_leadership_summary_due_30_minutes_after_declaration(sev1):
    assert selectors.incident_communication_due_list(now=START.replace(minute=29)) == []
    assert selectors.incident_communication_due_list(now=START.replace(minute=30)) == [sev1.pk]


def test_leadership_summary_content(sev1):
    with time_machine.travel(START.replace(minute=30), tick=False):
        services.leadership_summary_send(incident_id=sev1.pk)

    body = _messages_to("#incidents-exec").get().body
    assert "SEV-1 (Critical)" in body
    assert "Impact: High" in body
    assert "Duration: 30 min" in body
    assert "Last update: none posted yet" in body
    assert "Next step: in Detect" in body


def test_leadership_summary_once_per_window(sev1):
    with time_machine.travel(START.replace(minute=30), tick=False):
        services.leadership_summary_send(incident_id=sev1.pk)
        services.leadership_summary_send(incident_id=sev1.pk)

    assert _messages_to("#incidents-exec").count() == 1
    assert selectors.incident_communication_due_list(now=START.replace(minute=59)) == []
    assert selectors.incident_communication_due_list(now=START.replace(hour=11)) == [sev1.pk]


def test_sev2_gets_no_leadership_summary(commander):
    incident = declare_incident(actor=commander)

    assert incident.communication.leadership_summary_due_at is None


def test_resolution_summary_to_announcements(sev1, commander):
    for phase in (Phase.TRIAGE, Phase.RESPOND, Phase.RESOLVE):
        incident_services.incident_phase_change(
            actor=commander, incident=sev1, phase=phase, confirm_skip=True
        )

    assert _messages_to("#announcements").get().subject.startswith(f"{sev1.reference} resolved")
    sev1.communication.refresh_from_db()
    assert sev1.communication.leadership_summary_due_at is None


def test_resolve_leads_to_resolved_update(client, sev1, commander):
    for phase in (Phase.TRIAGE, Phase.RESPOND):
        incident_services.incident_phase_change(
            actor=commander, incident=sev1, phase=phase, confirm_skip=True
        )
    client.force_login(commander)
    url = reverse("incidents:phase_change", args=[sev1.pk])

    response = client.post(url, {"phase": Phase.RESOLVE, "confirm_skip": "on"}, follow=True)

    body = response.content.decode()
    assert response.redirect_chain[-1][0].endswith("?update_status=resolved#updates")
    assert "Now post the Resolved update" in body
    assert "Duration: " in body
