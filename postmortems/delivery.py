"""Outbound email of this app, queued in the notifications outbox, which sends and retries it."""

from notifications.models import Channel, Message
from notifications.services import message_queue


def email_queue(*, recipient, subject: str, body: str, dedup_key: str, incident=None) -> Message:
    """Queue one email to a user; the same dedup_key always yields the same single message."""
    return message_queue(
        channel=Channel.EMAIL,
        recipient=recipient,
        subject=subject,
        body=body,
        dedup_key=dedup_key,
        incident=incident,
    )
