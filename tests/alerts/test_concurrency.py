"""Identical deliveries posted at the same time, for real, on PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from alerts.models import Alert, Delivery
from alerts.tasks import delivery_process_task
from incidents import effects
from incidents.models import Incident

from .factories import make_integration, payload, rule_names_add

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

POSTS = 50
THREADS = 10


def _post_all(body: bytes, token: str) -> list[int]:
    barrier = threading.Barrier(THREADS)

    def worker(count: int) -> list[int]:
        client = Client()
        barrier.wait()
        try:
            return [
                client.post(
                    "/webhooks/alertmanager/",
                    data=body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                ).status_code
                for _ in range(count)
            ]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = pool.map(worker, [POSTS // THREADS] * THREADS)
    return [status for statuses in results for status in statuses]


def test_parallel_identical_posts_one_alert_one_incident(monkeypatch):
    rule_names_add("disk_space", "DiskWillFillIn4Hours")
    _, token = make_integration("alertmanager", storm_limit_per_minute=0)
    declared = []
    monkeypatch.setattr(
        effects, "incident_declared", lambda *, incident, actor: declared.append(incident.pk)
    )
    body = payload("alertmanager", "03_group_mixed_firing_resolved.json")

    statuses = _post_all(body, token)

    assert statuses == [202] * POSTS
    assert Delivery.objects.filter(status=Delivery.Status.PROCESSED).count() == POSTS
    assert Alert.objects.count() == 3
    assert sorted(Alert.objects.values_list("repeat_count", flat=True)) == [POSTS - 1] * 3
    assert Incident.objects.count() == 1
    assert len(declared) == 1


def test_process_task_twice_changes_nothing():
    _, token = make_integration("alertmanager")
    Client().post(
        "/webhooks/alertmanager/",
        data=payload("alertmanager", "01_firing_single.json"),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PENDING)
    Alert.objects.all().delete()

    for _ in range(2):
        delivery_process_task(delivery.pk)

    assert Alert.objects.get().repeat_count == 0
    assert Delivery.objects.get().status == Delivery.Status.PROCESSED
