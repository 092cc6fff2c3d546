"""The outbox. Every outbound message is stored as a Message row before anything is sent, then
delivered by a Celery task; the beat sweep re-sends what a lost task or a crash left behind.

Delivery is claimed by moving a row from pending to sending in one conditional UPDATE, so two
workers never send the same message at once. A worker that dies after the claim leaves the row in
sending; the sweep returns it to pending after CLAIM_TIMEOUT, which means a message whose sending
was interrupted may be sent twice but is never lost.
"""

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Channel, ContactMethod, DeliveryAttempt, Message
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
    target = target or _address_for(recipient, channel)
    message = Message(
        dedup_key=dedup_key,
        channel=channel,
        recipient=recipient,
        target=target,
        subject=subject[:255],
        body=body,
        incident=incident,
        payload=payload or {},
        next_attempt_at=timezone.now(),
    )
    skip_reason = TRANSPORTS[channel].missing_configuration()
    # Slack and PagerDuty have a default destination (the webhook's channel, the routing key).
    needs_target = channel not in (Channel.SLACK, Channel.PAGERDUTY)
    if skip_reason is None and not target and needs_target:
        who = recipient.get_username() if recipient is not None else "the recipient"
        skip_reason = f"{who} has no {Channel(channel).label} contact method."
    if skip_reason is not None:
        message.status = Message.Status.SKIPPED
        message.last_error = skip_reason
        message.next_attempt_at = None
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return Message.objects.get(dedup_key=dedup_key)
    if skip_reason is not None:
        logger.info("Skipped message %s on %s: %s", message.pk, channel, skip_reason)
    else:
        _schedule_delivery(message.pk)
    return message


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
