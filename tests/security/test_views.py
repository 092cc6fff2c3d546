import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from security.models import ProcedureStepRecord, RegulatoryObligation, SecurityIncident
from tests.incidents.factories import declare_incident

from .factories import legal_counsel_for, mark_security_incident, regulation, security_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client):
    user = security_user()
    client.force_login(user)
    return user


def test_mark_from_incident_page(client, member):
    incident = declare_incident(actor=member, title="Leaked API keys")

    response = client.post(
        reverse("security:mark", args=[incident.pk]), {"security_class": security_class_pk("S1")}
    )

    record = SecurityIncident.objects.get(incident=incident)
    incident.refresh_from_db()
    assert response.status_code == 302
    assert record.security_class.key == "S1"
    assert incident.severity.key == "SEV-1"
    assert record.steps.count() == 6


def security_class_pk(key):
    from security.models import SecurityClass

    return SecurityClass.objects.get(key=key).pk


def test_panel_shown_on_incident_page(client, member):
    record = mark_security_incident(actor=member)

    response = client.get(reverse("incidents:detail", args=[record.incident.pk]))

    assert "Security response team" in response.text
    assert "Visible to the Security group only" in response.text


def test_step_out_of_order_shows_error(client, member):
    record = mark_security_incident(actor=member)
    third = record.steps.get(position=3)

    response = client.post(
        reverse("security:step_tick", args=[record.incident.pk]),
        {"record": third.pk, "done": "on"},
    )

    third.refresh_from_db()
    assert response.status_code == 400
    assert "Finish Contain, Preserve before Investigate" in response.text
    assert third.is_done is False


def test_step_done_records_who(client, member):
    record = mark_security_incident(actor=member)
    first = record.steps.get(position=1)

    client.post(
        reverse("security:step_tick", args=[record.incident.pk]),
        {"record": first.pk, "done": "on", "note": "Hosts isolated"},
    )

    first = ProcedureStepRecord.objects.get(pk=first.pk)
    assert first.done_by == member
    assert first.note == "Hosts isolated"


def test_regulations_and_notice_via_pages(client, member):
    aware_at = timezone.now() - datetime.timedelta(hours=3)
    record = mark_security_incident(actor=member, aware_at=aware_at)
    legal_counsel_for(record, user=member)
    gdpr = regulation("gdpr")

    client.post(
        reverse("security:regulations_mark", args=[record.incident.pk]), {"regulations": [gdpr.pk]}
    )
    obligation = RegulatoryObligation.objects.get(security_incident=record)
    page = client.get(reverse("incidents:detail", args=[record.incident.pk]))
    client.post(
        reverse("security:obligation_close", args=[record.incident.pk]),
        {
            "obligation": obligation.pk,
            "notified_at": (record.aware_at + datetime.timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "notice_method": "DPA online form",
        },
    )

    obligation.refresh_from_db()
    assert "GDPR" in page.text
    assert "Record the GDPR notice" in page.text
    assert obligation.is_open is False


def test_evidence_with_bad_hash_keeps_input(client, member):
    record = mark_security_incident(actor=member)

    response = client.post(
        reverse("security:evidence_add", args=[record.incident.pk]),
        {
            "description": "Web server logs",
            "location": "s3://forensics/inc",
            "sha256": "not-a-hash",
            "collected_by": member.pk,
        },
    )

    assert response.status_code == 400
    assert "Invalid SHA-256" in response.text
    assert "Web server logs" in response.text


def test_former_member_gets_404(client):
    record = mark_security_incident()
    former = security_user(username="former")
    former.groups.remove(*former.groups.filter(name="Security"))
    client.force_login(former)

    response = client.post(
        reverse("security:step_tick", args=[record.incident.pk]),
        {"record": record.steps.first().pk, "done": "on"},
    )

    assert response.status_code == 404
