import datetime

import pytest
import time_machine

from notifications import services
from notifications.models import Channel, ContactMethod, Message, Throttle
from tests.http_mock import RecordingServer
from tests.incidents.factories import UserFactory

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def _sms(user, number: int) -> Message:
    return services.message_queue(
        channel=Channel.SMS,
        subject=f"Page {number}",
        body=f"Body {number}",
        dedup_key=f"throttle-test:{number}",
        recipient=user,
    )


@pytest.fixture
def sms_provider(settings):
    with RecordingServer() as provider:
        settings.SMS_PROVIDER_URL = f"{provider.url}/sms"
        yield provider


@pytest.fixture
def person():
    user = UserFactory()
    ContactMethod.objects.create(user=user, channel=Channel.SMS, address="+4930123456")
    return user


def test_default_throttle_is_one_sms_a_minute():
    throttle = Throttle.objects.get(channel=Channel.SMS)

    assert throttle.max_messages == 1
    assert throttle.window == datetime.timedelta(minutes=1)


def test_second_sms_in_window_held(sms_provider, person):
    with time_machine.travel(START, tick=False):
        first, second = _sms(person, 1), _sms(person, 2)
        services.message_deliver(message_id=first.pk)

        services.message_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert second.status == Message.Status.HELD
    assert second.next_attempt_at == START + datetime.timedelta(minutes=1)
    assert len(sms_provider.requests) == 1


def test_held_messages_batched_into_one(sms_provider, person):
    with time_machine.travel(START, tick=False) as traveller:
        messages = [_sms(person, number) for number in range(1, 4)]
        for message in messages:
            services.message_deliver(message_id=message.pk)
        traveller.move_to(START + datetime.timedelta(minutes=1))

        released = services.message_held_release(now=START + datetime.timedelta(minutes=1))
        services.message_deliver(message_id=released[0])

    batch = Message.objects.get(pk=released[0])
    assert len(released) == 1
    assert batch.status == Message.Status.SENT
    assert "Page 2" in batch.body
    assert "Page 3" in batch.body
    assert set(batch.batched_messages.values_list("status", flat=True)) == {"batched"}
    assert len(sms_provider.requests) == 2


def test_single_held_message_sent_as_is(sms_provider, person):
    with time_machine.travel(START, tick=False) as traveller:
        first, second = _sms(person, 1), _sms(person, 2)
        services.message_deliver(message_id=first.pk)
        services.message_deliver(message_id=second.pk)
        traveller.move_to(START + datetime.timedelta(minutes=1))

        released = services.message_held_release(now=START + datetime.timedelta(minutes=1))
        services.message_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert released == [second.pk]
    assert second.status == Message.Status.SENT


def test_other_person_not_throttled(sms_provider, person):
    other = UserFactory()
    ContactMethod.objects.create(user=other, channel=Channel.SMS, address="+4930999999")
    with time_machine.travel(START, tick=False):
        first, second = _sms(person, 1), _sms(other, 2)
        services.message_deliver(message_id=first.pk)

        services.message_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert second.status == Message.Status.SENT


def test_admin_edit_raises_limit(sms_provider, person):
    Throttle.objects.filter(channel=Channel.SMS).update(max_messages=2)
    with time_machine.travel(START, tick=False):
        first, second = _sms(person, 1), _sms(person, 2)
        services.message_deliver(message_id=first.pk)

        services.message_deliver(message_id=second.pk)

    second.refresh_from_db()
    assert second.status == Message.Status.SENT
