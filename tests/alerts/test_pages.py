"""The alert inbox, its CSV export, marking, and the integration page."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.models import Alert, Feedback
from tests.incidents.factories import responder_user, viewer_user

from .factories import make_integration, payload, rule_names_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(post):
    """Alerts from three senders, one of them under a rule."""
    rule_names_add("disk_space", "DiskWillFillIn4Hours")
    for kind, name in [
        ("alertmanager", "03_group_mixed_firing_resolved.json"),
        ("generic", "01_firing.json"),
        ("datadog", "01_triggered.json"),
    ]:
        _, token = make_integration(kind)
        post(kind, payload(kind, name), token=token)
    return Alert.objects.all()


def _csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_inbox_lists_alerts(client, stored):
    client.force_login(viewer_user())

    response = client.get(reverse("alerts:inbox"))

    assert response.status_code == 200
    assert "Invoice run did not finish by 06:00 UTC" in response.content.decode()
    assert "Noisiest alert rules" in response.content.decode()


def test_inbox_filters_by_source(client, stored):
    client.force_login(viewer_user())

    response = client.get(reverse("alerts:inbox"), {"source": "generic"})

    rows = list(response.context["table"].rows)
    assert [row.record.source for row in rows] == ["generic"]


def _inbox_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("alerts:inbox"))
    return len(queries)


def test_inbox_query_count_flat(client, post, stored):
    client.force_login(viewer_user())
    _, token = make_integration("generic", name="more")
    before = _inbox_queries(client)
    for number in range(5):
        body = payload("generic", "01_firing.json").replace(
            b"invoice-run/2025", f"invoice-run/{number}".encode()
        )
        post("generic", body, token=token)

    after = _inbox_queries(client)

    assert Alert.objects.count() == 10
    assert after == before


def test_inbox_needs_login(client):
    response = client.get(reverse("alerts:inbox"))

    assert response.status_code == 302


def test_export_csv_keeps_filters(client, stored):
    client.force_login(viewer_user())

    response = client.get(reverse("alerts:export"), {"source": "alertmanager"})

    rows = _csv_rows(response)
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == 3
    assert {row["source"] for row in rows} == {"alertmanager"}
    assert {row["rule"] for row in rows} == {"disk_space"}


def test_mark_bulk_noisy(client, stored):
    client.force_login(responder_user())
    alerts = list(Alert.objects.filter(source="alertmanager"))

    response = client.post(
        reverse("alerts:mark"),
        {"alert": [alert.pk for alert in alerts], "feedback": Feedback.NOISY, "next": "/alerts/"},
    )

    assert response.status_code == 302
    assert Alert.objects.filter(feedback=Feedback.NOISY).count() == 3


def test_mark_one_useful(client, stored):
    client.force_login(responder_user())
    alert = Alert.objects.get(source="generic")

    client.post(reverse("alerts:mark"), {"mark_one": f"{alert.pk}:useful", "next": "/alerts/"})

    alert.refresh_from_db()
    assert alert.feedback == Feedback.USEFUL
    assert alert.feedback_by is not None


def test_mark_without_selection_shows_error(client, stored):
    client.force_login(responder_user())

    response = client.post(
        reverse("alerts:mark"), {"feedback": Feedback.NOISY, "next": "/alerts/?source=generic"}
    )

    assert response.status_code == 400
    assert "Select at least one alert" in response.content.decode()


def test_mark_needs_permission(client, stored):
    client.force_login(viewer_user())
    alert = Alert.objects.first()

    response = client.post(reverse("alerts:mark"), {"mark_one": f"{alert.pk}:noisy"})

    assert response.status_code == 403


def test_noisiest_rules_ranked_by_noisy_marks(client, stored):
    Alert.objects.filter(rule__name="disk_space").update(feedback=Feedback.NOISY)
    client.force_login(viewer_user())

    response = client.get(reverse("alerts:inbox"))

    first = response.context["noisiest"][0]
    assert first["rule__name"] == "disk_space"
    assert first["noisy"] == 3


def test_integration_page_lists_rejection(client, post):
    integration, token = make_integration("alertmanager")
    post("alertmanager", payload("alertmanager", "14_malformed_missing_alerts.json"), token=token)
    client.force_login(viewer_user())

    response = client.get(reverse("alerts:integration_detail", args=[integration.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Invalid payload" in page
    assert "<code>alerts</code>" in page
    assert token not in page


def test_integration_list(client):
    make_integration("datadog", name="Datadog production")
    client.force_login(viewer_user())

    response = client.get(reverse("alerts:integration_list"))

    assert "Datadog production" in response.content.decode()
