import threading

import pytest
import time_machine
from django.db import connection

from notifications.models import Message
from paging import services
from paging.models import EscalationPage

from .factories import START, contact_holders_set, declare_sev1, minutes, on_call_people

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_parallel(function, count: int = 2) -> list:
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(function())
        except Exception as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return results


def test_parallel_sweeps_page_each_step_once(monkeypatch):
    people = on_call_people()
    contact_holders_set(people)
    monkeypatch.setattr(
        "oncall.selectors.layer_on_call_get", lambda *, layer, at, severity=None: people[layer]
    )
    with time_machine.travel(START, tick=False):
        incidents = [declare_sev1(title=f"Database failover {number}") for number in range(5)]

    results = _in_parallel(lambda: services.escalation_sweep(now=START + minutes(50)))

    assert sum(result.pages for result in results) == 5 * 3
    for incident in incidents:
        steps = list(
            EscalationPage.objects.filter(escalation__incident=incident)
            .order_by("step")
            .values_list("step", flat=True)
        )
        assert steps == [0, 1, 2, 3]
    keys = list(Message.objects.values_list("dedup_key", flat=True))
    assert len(keys) == len(set(keys))


def test_parallel_pages_of_one_step_insert_once(monkeypatch):
    people = on_call_people()
    monkeypatch.setattr(
        "oncall.selectors.layer_on_call_get", lambda *, layer, at, severity=None: people[layer]
    )
    with time_machine.travel(START, tick=False):
        incident = declare_sev1()

    def page_step_two():
        from django.db import transaction

        from paging.models import Escalation

        with transaction.atomic():
            escalation = Escalation.objects.select_related("incident", "incident__severity").get(
                incident=incident
            )
            return services._step_page(escalation, now=START + minutes(15), due_at=START)

    results = _in_parallel(page_step_two)

    assert len([page for page in results if page is not None]) == 1
    assert EscalationPage.objects.filter(escalation__incident=incident, step=1).count() == 1
