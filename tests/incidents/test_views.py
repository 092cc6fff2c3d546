import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, Level, Phase, Severity, TimelineEntry, UpdateStatus
from tests.incidents.factories import (
    ServiceFactory,
    commander_user,
    declare_incident,
    responder_user,
    viewer_user,
)

pytestmark = pytest.mark.django_db


def _bulk_incidents(count: int, *, start: int = 0) -> None:
    severities = list(Severity.objects.all())
    now = timezone.now()
    Incident.objects.bulk_create(
        [
            Incident(
                title=f"Incident {number}",
                description="Bulk",
                impact=Level.HIGH,
                urgency=Level.LOW,
                severity=severities[number % len(severities)],
                phase=Phase.RESPOND,
                channel_name=f"#inc-bulk-{number}",
                detected_at=now - datetime.timedelta(minutes=number),
                declared_at=now - datetime.timedelta(minutes=number),
                last_activity_at=now,
                next_update_due_at=now + datetime.timedelta(minutes=number % 40 - 20),
            )
            for number in range(start, start + count)
        ],
        batch_size=1000,
    )


@pytest.mark.parametrize(
    "url", ["/", "/incidents/", "/incidents/declare/", "/incidents/1/", "/admin/"]
)
def test_pages_need_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/") or "login" in response["Location"]


def test_dashboard_shows_my_incidents(client):
    commander = commander_user()
    incident = declare_incident(title="Checkout broken", commander=commander)
    client.force_login(commander)

    response = client.get(reverse("incidents:dashboard"))

    assert response.status_code == 200
    assert list(response.context["my_incidents"]) == [incident]


def test_list_query_count_flat(client, django_assert_max_num_queries):
    client.force_login(viewer_user())
    _bulk_incidents(50)
    with django_assert_max_num_queries(12) as small:
        client.get(reverse("incidents:list"))
    small_count = len(small)

    _bulk_incidents(10_000, start=50)
    with django_assert_max_num_queries(small_count):
        response = client.get(reverse("incidents:list"))

    assert response.status_code == 200


def test_list_filters_in_url(client):
    client.force_login(viewer_user())
    api = ServiceFactory(name="API")
    wanted = declare_incident(title="API errors", services=[api])
    declare_incident(title="Dashboard slow")

    response = client.get(reverse("incidents:list"), {"service": api.pk, "q": "errors"})

    rows = [row.record for row in response.context["table"].page.object_list]
    assert rows == [wanted]


def test_list_hides_resolved_by_default(client):
    client.force_login(viewer_user())
    incident = declare_incident()
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now(), phase=Phase.RESOLVE)

    response = client.get(reverse("incidents:list"))

    assert len(response.context["table"].rows) == 0


def test_declare_form_declares(client):
    commander = commander_user()
    client.force_login(commander)

    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Payments failing",
            "description": "Card payments time out",
            "impact": Level.HIGH,
            "urgency": Level.MEDIUM,
            "commander": commander.pk,
        },
    )

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/?declared=1"
    assert incident.severity.key == "SEV-2"


def test_declare_form_errors_inline_keep_input(client):
    client.force_login(commander_user())

    response = client.post(
        reverse("incidents:declare"),
        {"title": "Payments failing", "description": "", "impact": Level.HIGH},
    )

    content = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in content
    assert 'value="Payments failing"' in content
    assert Incident.objects.count() == 0


def test_declare_override_without_reason_inline(client):
    client.force_login(commander_user())

    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Payments failing",
            "description": "Card payments time out",
            "impact": Level.HIGH,
            "urgency": Level.HIGH,
            "severity": Severity.objects.get(key="SEV-3").pk,
        },
    )

    assert response.status_code == 400
    assert "suggest SEV-1" in response.content.decode()
    assert Incident.objects.count() == 0


def test_viewer_cannot_declare(client):
    client.force_login(viewer_user())

    response = client.post(reverse("incidents:declare"), {"title": "x"})

    assert response.status_code == 403


def test_viewer_cannot_post_update(client):
    incident = declare_incident()
    client.force_login(viewer_user())

    response = client.post(
        reverse("incidents:update_post", args=[incident.pk]),
        {"status": UpdateStatus.INVESTIGATING, "body": "Hello", "is_public": "on"},
    )

    assert response.status_code == 403
    assert incident.status_updates.count() == 0


def test_detail_renders_for_viewer_without_forms(client):
    incident = declare_incident(title="Search is down")
    client.force_login(viewer_user())

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Search is down" in content
    assert "Post update" not in content


def test_detail_missing_is_404(client):
    client.force_login(viewer_user())

    response = client.get(reverse("incidents:detail", args=[999]))

    assert response.status_code == 404


def test_update_post_from_page(client):
    responder = responder_user()
    incident = declare_incident()
    client.force_login(responder)

    response = client.post(
        reverse("incidents:update_post", args=[incident.pk]),
        {"status": UpdateStatus.INVESTIGATING, "body": "We are investigating", "is_public": "on"},
    )

    update = incident.status_updates.get()
    assert response.status_code == 302
    assert update.is_public is True
    assert update.posted_by == responder


def test_phase_change_unticked_shows_confirmation(client):
    commander = commander_user()
    incident = declare_incident(actor=commander)
    client.force_login(commander)

    response = client.post(
        reverse("incidents:phase_change", args=[incident.pk]), {"phase": Phase.TRIAGE}
    )

    content = response.content.decode()
    assert response.status_code == 400
    assert "Move on and record the unticked items as skipped" in content


def test_note_with_backdate_from_page(client):
    responder = responder_user()
    incident = declare_incident()
    client.force_login(responder)
    happened = timezone.localtime(incident.declared_at - datetime.timedelta(minutes=10))

    client.post(
        reverse("incidents:note_add", args=[incident.pk]),
        {"text": "Deploy went out", "occurred_at": happened.strftime("%Y-%m-%dT%H:%M")},
    )

    note = incident.timeline.get(kind=TimelineEntry.Kind.NOTE)
    assert note.occurred_at == happened.replace(second=0, microsecond=0)


def test_detail_query_count_flat(client, django_assert_max_num_queries):
    commander = commander_user()
    incident = declare_incident(actor=commander, commander=commander)
    client.force_login(commander)
    with django_assert_max_num_queries(60) as few:
        client.get(reverse("incidents:detail", args=[incident.pk]))
    few_count = len(few)
    for number in range(20):
        client.post(reverse("incidents:note_add", args=[incident.pk]), {"text": f"Note {number}"})

    with django_assert_max_num_queries(few_count):
        response = client.get(reverse("incidents:detail", args=[incident.pk]))

    assert response.status_code == 200


def test_bulk_acknowledge_selected(client):
    responder = responder_user()
    first, second, other = declare_incident(), declare_incident(), declare_incident()
    client.force_login(responder)

    response = client.post(
        reverse("incidents:bulk_acknowledge"),
        {"selected": [first.pk, second.pk], "next": "/incidents/?state=open"},
    )

    acknowledged = set(
        Incident.objects.filter(acknowledged_at__isnull=False).values_list("pk", flat=True)
    )
    assert response["Location"] == "/incidents/?state=open"
    assert acknowledged == {first.pk, second.pk}
    assert other.pk not in acknowledged


def test_bulk_acknowledge_by_viewer_denied(client):
    incident = declare_incident()
    client.force_login(viewer_user())

    response = client.post(reverse("incidents:bulk_acknowledge"), {"selected": [incident.pk]})

    assert response.status_code == 403


def test_bulk_acknowledge_rejects_offsite_next(client):
    client.force_login(responder_user())
    incident = declare_incident()

    response = client.post(
        reverse("incidents:bulk_acknowledge"),
        {"selected": [incident.pk], "next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("incidents:list")
