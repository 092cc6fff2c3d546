import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import services
from notifications.models import Channel, ContactMethod, Message
from tests.http_mock import RecordingServer
from tests.incidents.factories import UserFactory

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def _queue(channel=Channel.SLACK, **kwargs):
    defaults = {
        "channel": channel,
        "subject": "INC-1 SEV-1 declared",
        "body": "Elevated error rates on API",
        "dedup_key": f"test:{channel}",
    }
    defaults.update(kwargs)
    return services.message_queue(**defaults)


def test_queue_twice_stores_one_message(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        first = _queue(channel=Channel.EMAIL, target="alice@example.com")
        second = _queue(channel=Channel.EMAIL, target="alice@example.com")

    assert first.pk == second.pk
    assert Message.objects.count() == 1


def test_email_delivered_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(channel=Channel.EMAIL, target="alice@example.com")
    services.message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]


def test_unconfigured_sms_is_skipped(settings):
    settings.SMS_PROVIDER_URL = ""

    message = _queue(channel=Channel.SMS, target="+4930123456")

    assert message.status == Message.Status.SKIPPED
    assert "SMS_PROVIDER_URL" in message.last_error


def test_recipient_without_address_is_skipped(settings):
    settings.SMS_PROVIDER_URL = "http://127.0.0.1:9/sms"
    user = UserFactory()

    message = _queue(channel=Channel.SMS, recipient=user)

    assert message.status == Message.Status.SKIPPED
    assert f"{user.username} has no SMS contact method" in message.last_error


def test_recipient_contact_method_is_target(settings):
    settings.SMS_PROVIDER_URL = "http://127.0.0.1:9/sms"
    user = UserFactory()
    ContactMethod.objects.create(user=user, channel=Channel.SMS, address="+4930123456")

    message = _queue(channel=Channel.SMS, recipient=user)

    assert message.target == "+4930123456"
    assert message.status == Message.Status.PENDING


def test_failing_slack_retried_then_failed(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30
    with RecordingServer() as slack:
        slack.respond(500, {"error": "internal"}, times=3)
        settings.SLACK_WEBHOOK_URL = f"{slack.url}/hooks/T000/B000"
        with time_machine.travel(START, tick=False) as traveller:
            message = _queue()
            services.message_deliver(message_id=message.pk)
            message.refresh_from_db()
            first_retry_at = message.next_attempt_at

            traveller.move_to(first_retry_at)
            services.message_deliver(message_id=message.pk)
            message.refresh_from_db()
            second_retry_at = message.next_attempt_at

            traveller.move_to(second_retry_at)
            services.message_deliver(message_id=message.pk)
            message.refresh_from_db()

    assert first_retry_at == START + datetime.timedelta(seconds=30)
    assert second_retry_at == first_retry_at + datetime.timedelta(seconds=60)
    assert len(slack.requests) == 3
    assert message.status == Message.Status.FAILED
    assert "HTTP 500" in message.last_error
    assert message.delivery_attempts.count() == 3


def test_retry_not_sent_before_due(settings):
    with RecordingServer() as slack:
        slack.respond(503)
        settings.SLACK_WEBHOOK_URL = f"{slack.url}/hooks"
        message = _queue()
        services.message_deliver(message_id=message.pk)

        result = services.message_deliver(message_id=message.pk)

    assert result is None
    assert len(slack.requests) == 1


def test_slack_client_error_fails_without_retry(settings):
    with RecordingServer() as slack:
        slack.respond(404, "no_service")
        settings.SLACK_WEBHOOK_URL = f"{slack.url}/hooks"
        message = _queue()

        services.message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 1


def test_pagerduty_event_has_incident_dedup_key(settings):
    with RecordingServer() as pagerduty:
        settings.PAGERDUTY_ROUTING_KEY = "routing-key-for-tests"
        settings.PAGERDUTY_EVENTS_URL = f"{pagerduty.url}/v2/enqueue"
        message = _queue(channel=Channel.PAGERDUTY, payload={"pagerduty_dedup_key": "arka-7"})

        services.message_deliver(message_id=message.pk)

    event = pagerduty.requests[0]["body"]
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "arka-7"
    assert event["routing_key"] == "routing-key-for-tests"


def test_sweep_releases_stale_claim():
    message = _queue(channel=Channel.EMAIL, target="alice@example.com")
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING, claimed_at=timezone.now() - services.CLAIM_TIMEOUT * 2
    )

    due = services.message_due_ids(now=timezone.now())

    assert due == [message.pk]


def _outbound(channel, dedup_key, **kwargs):
    return services.OutboundMessage(
        channel=channel, subject="INC-1 SEV-1 declared", body="Paged", dedup_key=dedup_key, **kwargs
    )


def test_queue_bulk_returns_stored_for_known_key(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        stored = _queue(channel=Channel.EMAIL, dedup_key="bulk:1", target="alice@example.com")

        messages = services.message_queue_bulk(
            requests=[
                _outbound(Channel.EMAIL, "bulk:1", target="alice@example.com"),
                _outbound(Channel.EMAIL, "bulk:2", target="alice@example.com"),
                _outbound(Channel.EMAIL, "bulk:2", target="alice@example.com"),
            ]
        )

    assert messages[0].pk == stored.pk
    assert messages[1].pk == messages[2].pk
    assert Message.objects.count() == 2


def test_queue_bulk_addresses_and_skips(django_capture_on_commit_callbacks):
    user = UserFactory(username="alice", email="alice@example.com")
    ContactMethod.objects.create(user=user, channel=Channel.SMS, address="+15550100")

    with django_capture_on_commit_callbacks() as callbacks:
        email, sms, phone = services.message_queue_bulk(
            requests=[
                _outbound(Channel.EMAIL, "bulk:email", recipient=user),
                _outbound(Channel.SMS, "bulk:sms", recipient=user),
                _outbound(Channel.PHONE, "bulk:phone", recipient=user),
            ]
        )

    assert email.target == "alice@example.com"
    assert email.status == Message.Status.PENDING
    assert sms.target == "+15550100"
    assert phone.status == Message.Status.SKIPPED
    assert len(callbacks) == 1


def test_queue_bulk_query_count(django_assert_num_queries):
    users = [UserFactory(username=f"person-{number}") for number in range(3)]
    requests = [_outbound(Channel.EMAIL, f"bulk:{user.pk}", recipient=user) for user in users]

    # The stored keys, the contact methods and one INSERT.
    with django_assert_num_queries(3):
        services.message_queue_bulk(requests=requests)
