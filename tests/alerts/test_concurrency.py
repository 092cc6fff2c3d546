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


def _in_threads(work, items: list) -> list:
    """Run `work` on the items from THREADS threads that start together, like concurrent workers."""
    barrier = threading.Barrier(THREADS)
    chunks = [items[start::THREADS] for start in range(THREADS)]

    def worker(chunk: list) -> list:
        barrier.wait()
        try:
            return [work(item) for item in chunk]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = pool.map(worker, chunks)
    return [result for chunk in results for result in chunk]


def _post(body: bytes, token: str) -> int:
    return (
        Client()
        .post(
            "/webhooks/alertmanager/",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        .status_code
    )


def test_parallel_identical_posts_one_alert_one_incident(monkeypatch):
    rule_names_add("disk_space", "DiskWillFillIn4Hours")
    _, token = make_integration("alertmanager", storm_limit_per_minute=0)
    declared = []
    monkeypatch.setattr(
        effects, "incident_declared", lambda *, incident, actor: declared.append(incident.pk)
    )
    body = payload("alertmanager", "03_group_mixed_firing_resolved.json")
    statuses = _in_threads(lambda _: _post(body, token), range(POSTS))
    delivery_ids = list(Delivery.objects.values_list("pk", flat=True))

    # The posts only stored their deliveries; Celery workers process them concurrently.
    _in_threads(delivery_process_task, delivery_ids)

    assert statuses == [202] * POSTS
    assert Delivery.objects.filter(status=Delivery.Status.PROCESSED).count() == POSTS
    assert Alert.objects.count() == 3
    assert sorted(Alert.objects.values_list("repeat_count", flat=True)) == [POSTS - 1] * 3
    assert Incident.objects.count() == 1
    assert len(declared) == 1


def test_process_task_twice_changes_nothing():
    _, token = make_integration("alertmanager")
    _post(payload("alertmanager", "01_firing_single.json"), token)
    delivery = Delivery.objects.get()

    for _ in range(2):
        delivery_process_task(delivery.pk)

    assert Alert.objects.get().repeat_count == 0
    assert Delivery.objects.get().status == Delivery.Status.PROCESSED
