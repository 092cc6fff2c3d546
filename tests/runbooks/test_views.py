import pytest
from django.urls import reverse

from runbooks.models import Runbook, RunbookStepRun
from tests.incidents.factories import ServiceFactory, declare_incident, responder_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def responder(client):
    user = responder_user()
    client.force_login(user)
    return user


def test_catalog_lists_seven(client, responder):
    response = client.get(reverse("runbooks:list"))

    assert response.status_code == 200
    assert len(response.context["table"].rows) == 7


def test_catalog_query_count_is_flat(client, responder, django_assert_num_queries):
    # Session, user, profile, two permission reads, two counts, the service filter choices,
    # the page and its two prefetches (alert rules, services).
    with django_assert_num_queries(11):
        client.get(reverse("runbooks:list"))
    Runbook.objects.get(key="database-failover").services.add(ServiceFactory(name="Database"))

    with django_assert_num_queries(11):
        client.get(reverse("runbooks:list"))


def test_catalog_search_in_url(client, responder):
    response = client.get(reverse("runbooks:list"), {"q": "certificate"})

    assert "Certificate Renewal" in response.text
    assert "Database Failover" not in response.text


def test_runbook_page_renders_markdown(client, responder):
    response = client.get(reverse("runbooks:detail", args=["api-high-latency"]))

    assert "<h2" in response.text
    assert "kubectl get pods -n pact" in response.text


def test_runbook_page_escapes_script(client, responder):
    runbook = Runbook.objects.get(key="ddos-mitigation")
    runbook.body = "## Overview\n<script>alert(1)</script>\n[x](javascript:alert(1))"
    runbook.save()

    response = client.get(reverse("runbooks:detail", args=["ddos-mitigation"]))

    assert "<script>alert(1)</script>" not in response.text
    assert "javascript:alert" not in response.text


def test_incident_page_lists_service_runbook(client, responder):
    service = ServiceFactory(name="API")
    Runbook.objects.get(key="api-high-latency").services.add(service)
    incident = declare_incident(title="API slow", services=[service])

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    assert "API High Latency" in response.text
    assert "Record step ran" in response.text


def test_record_step_from_incident_page(client, responder):
    incident = declare_incident(title="API slow")
    runbook = Runbook.objects.get(key="api-high-latency")

    response = client.post(
        reverse("runbooks:step_run_record", args=[incident.pk]),
        {"runbook": runbook.pk, "step_number": 1, "note": "3 pods restarting"},
    )

    run = RunbookStepRun.objects.get(incident=incident)
    assert response.status_code == 302
    assert run.run_by == responder
    assert run.step_title == "Verify the Issue"


def test_record_step_on_hidden_incident_is_404(client, responder):
    from tests.security.factories import mark_security_incident

    record = mark_security_incident()
    runbook = Runbook.objects.get(key="api-high-latency")

    response = client.post(
        reverse("runbooks:step_run_record", args=[record.incident.pk]),
        {"runbook": runbook.pk, "step_number": 1},
    )

    assert response.status_code == 404
