import datetime
import threading

import pytest
import time_machine
from django.db import connection

from notifications.models import Message
from oncall import services
from oncall.models import ShiftNotice
from tests.oncall.factories import rotation_with

HANDOFF = datetime.datetime(2026, 3, 15, tzinfo=datetime.UTC)


@pytest.mark.postgres
def test_parallel_sweeps_send_each_notice_once(transactional_db):
    rotation = rotation_with("alice", "bob")
    now = HANDOFF + datetime.timedelta(seconds=20)
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        try:
            barrier.wait()
            services.rotation_shift_notices_send(rotation=rotation, now=now)
        except Exception as error:  # Reported by the assert below.
            errors.append(error)
        finally:
            connection.close()

    with time_machine.travel(now, tick=False):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert ShiftNotice.objects.filter(rule__key="handoff").count() == 2
    assert Message.objects.filter(subject__startswith="You are on call for").count() == 2
