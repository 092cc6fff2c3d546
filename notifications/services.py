"""The outbox. Every outbound message is stored as a Message row before anything is sent, then
delivered by a Celery task. The beat sweep re-sends what a lost task or a crash left behind.

Delivery is claimed by moving a row from pending to sending in one conditional UPDATE, so two
workers never send the same message at once. A worker that dies after the claim leaves the row in
sending, and the sweep returns it to pending after CLAIM_TIMEOUT. So a message whose sending was
interrupted may be sent twice, but it is never lost.

A throttle per channel limits how many messages one person gets in a window. A message over the
limit is held back until the window has room, then sent together with the others held for the same
person and channel as one batched message.
"""

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Channel, ContactMethod, DeliveryAttempt, Message, Throttle
from .transports import TRANSPORTS, PermanentDeliveryError, TransientDeliveryError

logger = logging.getLogger(__name__)

CLAIM_TIMEOUT = datetime.timedelta(minutes=5)


def _address_for(user, channel: str) -> str:
    if user is None:
        return ""
    method = (
        ContactMethod.objects.filter(user=user, channel=channel).order_by("position", "id").first()
    )
    if method is not None:
        return method.address
    if channel == Channel.EMAIL:
        return user.email
    return ""


def _schedule_delivery(message_id: int) -> None:
    from .tasks import message_deliver_task

    transaction.on_commit(lambda: message_deliver_task.delay(message_id))


@dataclass(frozen=True)
class OutboundMessage:
    """The fields of one message to queue with `message_queue_bulk`."""

    channel: str
    subject: str
    body: str
    dedup_key: str
    recipient: object = None
    target: str = ""
    incident: object = None
    payload: dict | None = None


class AddressBook:
    """People's contact addresses per channel, read in one query per batch of new people.

    Reuse one book for a batch of messages (one escalation sweep) so that each person's contact
    methods are read once. Addresses added after a person was read are not seen by that book.
    """

    def __init__(self):
        self._addresses: dict[int, dict[str, str]] = {}

    def load(self, users) -> None:
        missing = {user.pk for user in users if user is not None} - set(self._addresses)
        if not missing:
            return
        for user_id in missing:
            self._addresses[user_id] = {}
        methods = ContactMethod.objects.filter(user_id__in=missing).order_by("position", "id")
        for user_id, channel, address in methods.values_list("user_id", "channel", "address"):
            self._addresses[user_id].setdefault(channel, address)

    def address(self, user, channel: str) -> str:
        """Return the user's first contact address for the channel, as `_address_for` does."""
        if user is None:
            return ""
        self.load([user])
        address = self._addresses[user.pk].get(channel)
        if address is not None:
            return address
        if channel == Channel.EMAIL:
            return user.email
        return ""


def _message_new(request: OutboundMessage, target: str) -> Message:
    """Build an unsaved message, marked skipped when it cannot be sent."""
    message = Message(
        dedup_key=request.dedup_key,
        channel=request.channel,
        recipient=request.recipient,
        target=target,
        subject=request.subject[:255],
        body=request.body,
        incident=request.incident,
        payload=request.payload or {},
        next_attempt_at=timezone.now(),
    )
    channel = request.channel
    skip_reason = TRANSPORTS[channel].missing_configuration()
    # Slack and PagerDuty have a default destination (the webhook's channel, the routing key).
    needs_target = channel not in (Channel.SLACK, Channel.PAGERDUTY)
    if skip_reason is None and not target and needs_target:
        recipient = request.recipient
        who = recipient.get_username() if recipient is not None else "the recipient"
        skip_reason = f"{who} has no {Channel(channel).label} contact method."
    if skip_reason is not None:
        message.status = Message.Status.SKIPPED
        message.last_error = skip_reason
        message.next_attempt_at = None
    return message


def _message_stored(message: Message) -> None:
    if message.status == Message.Status.SKIPPED:
        logger.info("Skipped message %s on %s: %s", message.pk, message.channel, message.last_error)
    else:
        _schedule_delivery(message.pk)


def message_queue(
    *,
    channel: str,
    subject: str,
    body: str,
    dedup_key: str,
    recipient=None,
    target: str = "",
    incident=None,
    payload: dict | None = None,
) -> Message:
    """Store a message for delivery after commit; the same dedup_key always yields one message.

    The target is the recipient's contact method for the channel unless given. A channel that is
    not configured, or a recipient without an address for it, is recorded as skipped with why.
    """
    existing = Message.objects.filter(dedup_key=dedup_key).first()
    if existing is not None:
        return existing
    request = OutboundMessage(
        channel=channel,
        subject=subject,
        body=body,
        dedup_key=dedup_key,
        recipient=recipient,
        target=target,
        incident=incident,
        payload=payload,
    )
    message = _message_new(request, target or _address_for(recipient, channel))
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return Message.objects.get(dedup_key=dedup_key)
    _message_stored(message)
    return message


def message_queue_bulk(
    *, requests: list[OutboundMessage], address_book: AddressBook | None = None
) -> list[Message]:
    """Store several messages as `message_queue` does, with one lookup and one INSERT.

    Returns the messages in the order of `requests`; a dedup_key that is already stored yields
    the stored message. Unlike `message_queue`, a row with the same dedup_key inserted by another
    transaction meanwhile raises IntegrityError, so call it where a unique row of the caller's
    (such as an escalation page) already keeps a second caller out.
    """
    if not requests:
        return []
    address_book = address_book or AddressBook()
    existing = Message.objects.in_bulk(
        [request.dedup_key for request in requests], field_name="dedup_key"
    )
    address_book.load(request.recipient for request in requests if not request.target)
    new = {}
    for request in requests:
        if request.dedup_key in existing or request.dedup_key in new:
            continue
        target = request.target or address_book.address(request.recipient, request.channel)
        new[request.dedup_key] = _message_new(request, target)
    Message.objects.bulk_create(new.values())
    for message in new.values():
        _message_stored(message)
    stored = existing | new
    return [stored[request.dedup_key] for request in requests]


def message_queue_for_user(
    *,
    user,
    channels: Iterable[str],
    subject: str,
    body: str,
    dedup_key: str,
    incident=None,
    payload: dict | None = None,
) -> list[Message]:
    """Queue one message per channel to a person; each channel's key is dedup_key + channel."""
    return [
        message_queue(
            channel=channel,
            subject=subject,
            body=body,
            dedup_key=f"{dedup_key}:{channel}",
            recipient=user,
            incident=incident,
            payload=payload,
        )
        for channel in channels
    ]


def _retry_delay(attempts: int) -> datetime.timedelta:
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return datetime.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


def message_deliver(*, message_id: int) -> Message | None:
    """Send one due message once; returns None when it is not due or another worker has it."""
    now = timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, status=Message.Status.PENDING, next_attempt_at__lte=now
    ).update(status=Message.Status.SENDING, claimed_at=now)
    if not claimed:
        logger.info("Message %s is not due or already claimed; nothing sent", message_id)
        return None
    message = Message.objects.get(pk=message_id)
    transport = TRANSPORTS[message.channel]
    skip_reason = transport.missing_configuration()
    if skip_reason is not None:
        message.status = Message.Status.SKIPPED
        message.last_error = skip_reason
        message.next_attempt_at = None
        message.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
        return message
    if _throttle_hold(message, now):
        return message

    message.attempts += 1
    try:
        transport.send(message)
    except TransientDeliveryError as error:
        _record_failure(message, error, retry=message.attempts < settings.NOTIFICATION_MAX_ATTEMPTS)
    except PermanentDeliveryError as error:
        _record_failure(message, error, retry=False)
    else:
        message.status = Message.Status.SENT
        message.sent_at = timezone.now()
        message.last_error = ""
        message.next_attempt_at = None
        message.save(
            update_fields=[
                "status",
                "sent_at",
                "attempts",
                "last_error",
                "next_attempt_at",
                "updated_at",
            ]
        )
        DeliveryAttempt.objects.create(
            message=message, attempted_at=message.sent_at, succeeded=True
        )
        logger.info("Sent message %s on %s", message.pk, message.channel)
    return message


def _record_failure(message: Message, error: Exception, *, retry: bool) -> None:
    now = timezone.now()
    DeliveryAttempt.objects.create(
        message=message, attempted_at=now, succeeded=False, error=str(error)
    )
    message.last_error = str(error)
    if retry:
        delay = _retry_delay(message.attempts)
        message.status = Message.Status.PENDING
        message.next_attempt_at = now + delay
        logger.warning(
            "Message %s on %s failed (attempt %s), retrying in %ss: %s",
            message.pk,
            message.channel,
            message.attempts,
            int(delay.total_seconds()),
            error,
        )
        from .tasks import message_deliver_task

        message.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"]
        )
        message_deliver_task.apply_async((message.pk,), countdown=delay.total_seconds())
        return
    message.status = Message.Status.FAILED
    message.next_attempt_at = None
    message.save(
        update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"]
    )
    logger.warning(
        "Message %s on %s failed for good after %s attempts: %s",
        message.pk,
        message.channel,
        message.attempts,
        error,
    )


@transaction.atomic
def _throttle_hold(message: Message, now: datetime.datetime) -> bool:
    """Hold a claimed message back when its recipient already had the channel's maximum.

    The throttle row lock makes the count and the decision one step, so two workers cannot both
    see room for one more message. Messages in sending or sent count from their claim time.
    """
    if message.recipient_id is None:
        return False
    throttle = Throttle.objects.select_for_update().filter(channel=message.channel).first()
    if throttle is None:
        return False
    recent = list(
        Message.objects.filter(
            recipient_id=message.recipient_id,
            channel=message.channel,
            status__in=[Message.Status.SENDING, Message.Status.SENT],
            claimed_at__gt=now - throttle.window,
        )
        .exclude(pk=message.pk)
        .order_by("claimed_at")
        .values_list("claimed_at", flat=True)[: throttle.max_messages]
    )
    if len(recent) < throttle.max_messages:
        return False
    message.status = Message.Status.HELD
    message.claimed_at = None
    message.next_attempt_at = recent[0] + throttle.window
    message.save(update_fields=["status", "claimed_at", "next_attempt_at", "updated_at"])
    logger.info(
        "Held message %s on %s for user %s until %s: at most %s per %s",
        message.pk,
        message.channel,
        message.recipient_id,
        message.next_attempt_at.isoformat(),
        throttle.max_messages,
        throttle.window,
    )
    return True


def _batch_body(messages: list[Message]) -> str:
    return "\n\n".join(f"{message.subject}\n{message.body}" for message in messages)


@transaction.atomic
def message_held_release(*, now: datetime.datetime) -> list[int]:
    """Send what throttles held back once due: one message per person and channel.

    A person's single held message goes out as it is; several are combined into one batched
    message, and each of them points at it. Returns the ids of the messages now pending.
    """
    held = list(
        Message.objects.select_for_update(skip_locked=True)
        .filter(status=Message.Status.HELD, next_attempt_at__lte=now)
        .order_by("recipient_id", "channel", "created_at", "id")
    )
    groups: dict[tuple, list[Message]] = {}
    for message in held:
        groups.setdefault((message.recipient_id, message.channel), []).append(message)

    released = []
    for group in groups.values():
        if len(group) == 1:
            single = group[0]
            Message.objects.filter(pk=single.pk).update(
                status=Message.Status.PENDING, next_attempt_at=now
            )
            released.append(single.pk)
            _schedule_delivery(single.pk)
            continue
        latest = group[-1]
        incidents = {message.incident_id for message in group}
        batch = Message.objects.create(
            dedup_key=f"throttle-batch:{group[0].pk}",
            channel=latest.channel,
            recipient_id=latest.recipient_id,
            target=latest.target,
            subject=f"{len(group)} messages held back by the {latest.get_channel_display()} "
            f"limit: {group[0].subject}"[:255],
            body=_batch_body(group),
            incident_id=incidents.pop() if len(incidents) == 1 else None,
            next_attempt_at=now,
        )
        Message.objects.filter(pk__in=[message.pk for message in group]).update(
            status=Message.Status.BATCHED, batched_into=batch, next_attempt_at=None
        )
        logger.info(
            "Batched %s held messages into message %s on %s for user %s",
            len(group),
            batch.pk,
            batch.channel,
            batch.recipient_id,
        )
        released.append(batch.pk)
        _schedule_delivery(batch.pk)
    return released


def message_due_ids(*, now: datetime.datetime, limit: int = 500) -> list[int]:
    """Return the ids of messages to send now, releasing claims left by dead workers first."""
    Message.objects.filter(
        status=Message.Status.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT
    ).update(status=Message.Status.PENDING, next_attempt_at=now)
    return list(
        Message.objects.filter(Q(status=Message.Status.PENDING) & Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
