"""The outbox's delivery task travels through a real Redis broker to a real Celery worker."""

import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from arka_portal.celery import app
from notifications import services
from notifications.models import Channel, Message


def _use_broker(url: str) -> None:
    """Point the app at another broker, dropping connections made to the previous one."""
    app.conf.broker_url = url
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_message_delivered_by_worker_over_redis(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = services.message_queue(
        channel=Channel.EMAIL,
        subject="INC-1 declared",
        body="Elevated error rates on API",
        dedup_key="broker-test",
        target="alice@example.com",
    )
    # A queue of its own, so no other worker on the same Redis takes the task.
    queue = f"arka-test-{uuid.uuid4().hex}"
    _use_broker(settings.REDIS_URL)
    try:
        with start_worker(
            app, perform_ping_check=False, pool="solo", shutdown_timeout=10, queues=[queue]
        ):
            app.send_task("notifications.message_deliver", args=[message.pk], queue=queue)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                message.refresh_from_db()
                if message.status == Message.Status.SENT:
                    break
                time.sleep(0.1)
    finally:
        _use_broker(settings.CELERY_BROKER_URL)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [sent.to for sent in mail.outbox] == [["alice@example.com"]]
