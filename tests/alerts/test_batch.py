"""Batch processing: one task works through an integration's pending deliveries."""

import datetime
import json
import threading

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertStatus, Delivery
from alerts.tasks import delivery_batch_process_task, delivery_sweep_task
from incidents.models import Incident

from .factories import make_integration, payload, payload_json, rule_names_add
from .test_concurrency import POSTS, _in_threads, _post

pytestmark = pytest.mark.django_db


def _store(integration, body: bytes) -> Delivery:
    return services.delivery_store(
        integration=integration,
        content_type="application/json",
        headers={},
        body=body,
        remote_addr="127.0.0.1",
    )


def _generic(number: int) -> bytes:
    body = payload_json("generic", "01_firing.json")
    body["dedup_key"] = f"job/{number}"
    return json.dumps(body).encode()


def test_batch_processes_all_pending_of_integration():
    integration, _ = make_integration("generic")
    for number in range(3):
        _store(integration, _generic(number))

    delivery_batch_process_task(integration.pk)

    assert not Delivery.objects.filter(status=Delivery.Status.PENDING).exists()
    assert Alert.objects.count() == 3


def test_batch_leaves_other_integration_pending():
    integration, _ = make_integration("generic")
    other, _ = make_integration("generic", name="other")
    _store(other, _generic(1))

    delivery_batch_process_task(integration.pk)

    assert Delivery.objects.get().status == Delivery.Status.PENDING


def test_batch_processes_in_id_order():
    integration, _ = make_integration("generic")
    first = _store(integration, _generic(1))
    second = _store(integration, _generic(1))

    delivery_batch_process_task(integration.pk)

    assert Alert.objects.get().last_delivery_id == second.pk
    assert Delivery.objects.get(pk=first.pk).alert_count == 1


def test_batch_failure_leaves_only_that_delivery_pending(monkeypatch):
    integration, _ = make_integration("generic")
    failing = _store(integration, _generic(1))
    _store(integration, _generic(2))
    original = services._alert_apply

    def fail_first(context, latest, event):
        if context.delivery.pk == failing.pk:
            raise RuntimeError("boom")
        return original(context, latest, event)

    monkeypatch.setattr(services, "_alert_apply", fail_first)

    delivery_batch_process_task(integration.pk)

    pending = Delivery.objects.get(status=Delivery.Status.PENDING)
    assert pending.pk == failing.pk
    assert pending.attempts == 1
    assert Alert.objects.get().identity == "job/2"


def test_batch_failure_rolls_back_before_one_by_one(monkeypatch):
    integration, _ = make_integration("generic")
    for number in range(3):
        _store(integration, _generic(number))
    original, calls = services._delivery_mark, []

    def fail_once(delivery, **fields):
        calls.append(delivery.pk)
        if len(calls) == 1:
            raise RuntimeError("boom")
        original(delivery, **fields)

    monkeypatch.setattr(services, "_delivery_mark", fail_once)

    delivery_batch_process_task(integration.pk)

    assert Alert.objects.count() == 3
    assert sorted(Alert.objects.values_list("repeat_count", flat=True)) == [0, 0, 0]
    assert set(Delivery.objects.values_list("status", "attempts")) == {
        (Delivery.Status.PROCESSED, 1)
    }


def test_batch_insert_race_falls_back(monkeypatch):
    integration, _ = make_integration("generic")
    _store(integration, _generic(1))
    delivery_batch_process_task(integration.pk)
    second = _store(integration, _generic(1))
    original, calls = services._latest_locked, []

    def miss_first(integration, identities):
        # The batch misses the stored alert, as when a concurrent delivery inserts it first.
        calls.append(identities)
        return {} if len(calls) == 1 else original(integration, identities)

    monkeypatch.setattr(services, "_latest_locked", miss_first)

    delivery_batch_process_task(integration.pk)

    assert len(calls) == 2
    assert Alert.objects.get().repeat_count == 1
    assert Delivery.objects.get(pk=second.pk).status == Delivery.Status.PROCESSED


def test_batch_repeats_across_deliveries():
    integration, _ = make_integration("generic")
    _store(integration, _generic(1))
    delivery_batch_process_task(integration.pk)
    for _ in range(3):
        last = _store(integration, _generic(1))

    delivery_batch_process_task(integration.pk)

    alert = Alert.objects.get()
    assert alert.repeat_count == 3
    assert alert.last_delivery_id == last.pk


def test_batch_fire_then_resolve_across_deliveries():
    integration, _ = make_integration("generic")
    _store(integration, payload("generic", "01_firing.json"))
    _store(integration, payload("generic", "02_resolved.json"))

    delivery_batch_process_task(integration.pk)

    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_batch_refire_after_resolve_new_occurrence():
    integration, _ = make_integration("generic")
    _store(integration, payload("generic", "01_firing.json"))
    _store(integration, payload("generic", "02_resolved.json"))
    later = payload_json("generic", "01_firing.json")
    later["occurred_at"] = "2025-06-19T07:00:00Z"
    _store(integration, json.dumps(later).encode())

    delivery_batch_process_task(integration.pk)

    assert list(Alert.objects.order_by("occurrence").values_list("status", flat=True)) == [
        AlertStatus.RESOLVED,
        AlertStatus.FIRING,
    ]


def test_batch_fire_then_resolve_in_one_delivery():
    integration, _ = make_integration("alertmanager")
    body = payload_json("alertmanager", "01_firing_single.json")
    resolved = payload_json("alertmanager", "02_resolved_single.json")["alerts"][0]
    body["alerts"].append(resolved)
    _store(integration, json.dumps(body).encode())

    delivery_batch_process_task(integration.pk)

    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert Delivery.objects.get().alert_count == 1


def _storm_alert(number: int) -> bytes:
    body = payload_json("alertmanager", "01_firing_single.json")
    body["alerts"][0]["fingerprint"] = f"storm-{number:03d}"
    body["alerts"][0]["labels"]["pod"] = f"checkout-{number}"
    return json.dumps(body).encode()


def test_batch_storm_opens_one_incident_with_one_entry():
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    integration, _ = make_integration("alertmanager", storm_limit_per_minute=0)
    for number in range(5):
        _store(integration, _storm_alert(number))

    delivery_batch_process_task(integration.pk)

    incident = Incident.objects.get()
    assert Alert.objects.filter(incident=incident).count() == 5
    assert incident.timeline.filter(message__startswith="4 alerts joined").count() == 1


def _batch_queries(integration, first: int, count: int) -> int:
    for number in range(first, first + count):
        _store(integration, _storm_alert(number))
    with CaptureQueriesContext(connection) as captured:
        delivery_batch_process_task(integration.pk)
    return len(captured.captured_queries)


def test_batch_queries_do_not_grow_with_deliveries():
    rule_names_add("error_rate_critical", "CheckoutHighErrorRate")
    integration, _ = make_integration("alertmanager", storm_limit_per_minute=0)
    _batch_queries(integration, 0, 1)

    few = _batch_queries(integration, 100, 3)
    many = _batch_queries(integration, 200, 30)

    assert many == few


def test_batch_past_limit_queues_another(monkeypatch):
    integration, _ = make_integration("generic")
    for number in range(3):
        _store(integration, _generic(number))
    queued = []
    monkeypatch.setattr(delivery_batch_process_task, "delay", queued.append)

    done = services.delivery_batch_process(integration_id=integration.pk, limit=2)

    assert done == 2
    assert queued == [integration.pk]


def test_sweep_queues_one_batch_per_integration(monkeypatch):
    integration, _ = make_integration("generic")
    for number in range(3):
        _store(integration, _generic(number))
    queued = []
    monkeypatch.setattr(delivery_batch_process_task, "delay", queued.append)

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2), tick=False):
        delivery_sweep_task()

    assert queued == [integration.pk]


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def queued(monkeypatch):
    """Record the batch tasks queued, as (integration id, countdown), on a clock the test sets."""
    calls = []
    monkeypatch.setattr(
        delivery_batch_process_task,
        "apply_async",
        lambda args, countdown: calls.append((args[0], countdown)),
    )
    monkeypatch.setattr(services, "_batch_queued_at", {})
    clock = _Clock()
    monkeypatch.setattr(services.time, "monotonic", clock)
    return calls, clock


def test_queue_delays_task(queued, settings):
    settings.ALERTS_BATCH_DELAY_SECONDS = 0.2
    calls, _ = queued

    services._batch_queue(7)

    assert calls == [(7, 0.2)]


def test_queue_skips_within_half_delay(queued, settings):
    settings.ALERTS_BATCH_DELAY_SECONDS = 0.2
    calls, clock = queued

    services._batch_queue(7)
    clock.now += 0.09
    services._batch_queue(7)

    assert calls == [(7, 0.2)]


def test_queue_again_after_half_delay(queued, settings):
    settings.ALERTS_BATCH_DELAY_SECONDS = 0.2
    calls, clock = queued

    services._batch_queue(7)
    clock.now += 0.1
    services._batch_queue(7)

    assert calls == [(7, 0.2), (7, 0.2)]


def test_queue_per_integration(queued):
    calls, _ = queued

    services._batch_queue(7)
    services._batch_queue(8)

    assert [integration_id for integration_id, _ in calls] == [7, 8]


def test_queue_eager_never_skips(queued, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    calls, _ = queued

    services._batch_queue(7)
    services._batch_queue(7)

    assert len(calls) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batch_skips_delivery_claimed_elsewhere():
    integration, _ = make_integration("generic")
    claimed = _store(integration, _generic(1))
    _store(integration, _generic(2))
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Delivery.objects.select_for_update().get(pk=claimed.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        delivery_batch_process_task(integration.pk)
    finally:
        release.set()
        holder.join()

    assert Delivery.objects.get(status=Delivery.Status.PENDING).pk == claimed.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batch_leaves_busy_integration(monkeypatch):
    integration, _ = make_integration("generic")
    _store(integration, _generic(1))
    queued = []
    monkeypatch.setattr(delivery_batch_process_task, "apply_async", queued.append)
    monkeypatch.setattr(delivery_batch_process_task, "delay", queued.append)
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            services._batch_lock_try(integration.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        done = services.delivery_batch_process(integration_id=integration.pk)
    finally:
        release.set()
        holder.join()

    assert done == 0
    assert queued == []
    assert Delivery.objects.get().status == Delivery.Status.PENDING


def test_batch_finds_delivery_below_read_ids(monkeypatch):
    integration, _ = make_integration("generic")
    later = _store(integration, _generic(2))
    process = services._deliveries_process_retrying_race
    inserted = []

    def process_then_insert_lower_id(integration_id, ids, reference):
        result = process(integration_id, ids, reference)
        if not inserted:
            # As if its request committed after this batch read past its id.
            early = _store(integration, _generic(1))
            Delivery.objects.filter(pk=early.pk).update(id=later.pk - 1)
            inserted.append(later.pk - 1)
        return result

    monkeypatch.setattr(services, "_deliveries_process_retrying_race", process_then_insert_lower_id)

    services.delivery_batch_process(integration_id=integration.pk)

    assert Delivery.objects.get(pk=inserted[0]).status == Delivery.Status.PROCESSED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_batches_one_alert_one_incident(caplog):
    caplog.set_level("INFO", logger="alerts.services")
    rule_names_add("disk_space", "DiskWillFillIn4Hours")
    integration, token = make_integration("alertmanager", storm_limit_per_minute=0)
    body = payload("alertmanager", "03_group_mixed_firing_resolved.json")
    for _ in range(POSTS):
        assert _post(body, token) == 202

    _in_threads(delivery_batch_process_task, [integration.pk] * POSTS)

    assert Delivery.objects.filter(status=Delivery.Status.PROCESSED).count() == POSTS
    assert sorted(Alert.objects.values_list("repeat_count", flat=True)) == [POSTS - 1] * 3
    assert Incident.objects.count() == 1
    # One batch of an integration runs at a time, so none inserts an alert twice.
    assert "lost a race" not in caplog.text


def test_batch_reads_rules_once(django_assert_max_num_queries):
    integration, _ = make_integration("generic")
    _store(integration, _generic(1))
    for number in range(2, 5):
        _store(integration, _generic(number))

    with django_assert_max_num_queries(100) as captured:
        delivery_batch_process_task(integration.pk)

    rule_reads = [q for q in captured.captured_queries if 'FROM "alerts_alertrule"' in q["sql"]]
    assert len(rule_reads) == 1


def test_queue_failure_lets_next_request_queue(monkeypatch):
    calls = []

    def fail_once(args, countdown):
        calls.append(args[0])
        if len(calls) == 1:
            raise ConnectionError("broker down")

    monkeypatch.setattr(delivery_batch_process_task, "apply_async", fail_once)
    monkeypatch.setattr(services, "_batch_queued_at", {})

    with pytest.raises(ConnectionError):
        services._batch_queue(7)
    services._batch_queue(7)

    assert calls == [7, 7]
