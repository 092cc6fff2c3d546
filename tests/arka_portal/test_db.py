"""row_insert: one INSERT that stores what save() would store."""

import datetime

import pytest
from django.utils import timezone

from alerts.models import Delivery
from arka_portal.db import row_insert
from tests.alerts.factories import make_integration

pytestmark = pytest.mark.django_db


def _delivery(integration) -> Delivery:
    return Delivery(
        integration=integration,
        received_at=timezone.now() - datetime.timedelta(seconds=5),
        content_type="application/json",
        headers={"content-type": "application/json", "x-list": [1, 2]},
        body='{"status": "firing"}',
        remote_addr="192.0.2.10",
    )


def test_row_insert_sets_pk():
    integration, _ = make_integration("generic")
    delivery = _delivery(integration)

    row_insert(delivery)

    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_row_insert_stores_field_values():
    integration, _ = make_integration("generic")
    delivery = _delivery(integration)

    row_insert(delivery)

    stored = Delivery.objects.get(pk=delivery.pk)
    assert stored.integration_id == integration.pk
    assert stored.received_at == delivery.received_at
    assert stored.headers == {"content-type": "application/json", "x-list": [1, 2]}
    assert stored.body == '{"status": "firing"}'
    assert stored.remote_addr == "192.0.2.10"


def test_row_insert_stores_defaults():
    integration, _ = make_integration("generic")
    delivery = _delivery(integration)

    row_insert(delivery)

    stored = Delivery.objects.get(pk=delivery.pk)
    assert stored.status == Delivery.Status.PENDING
    assert stored.notes == []
    assert stored.processed_at is None


def test_row_insert_marks_instance_saved():
    integration, _ = make_integration("generic")
    delivery = _delivery(integration)

    row_insert(delivery)

    assert delivery._state.adding is False
    assert delivery._state.db == "default"
