"""Outbound email of this app, in one place so the transport can change without touching callers."""

from django.conf import settings
from django.core.mail import send_mail


def email_send(*, recipient, subject: str, body: str) -> None:
    """Send one plain-text email to a user now; raises OSError (SMTPException) on failure.

    TODO: queue through the notifications app's outbox once it is on main; callers already
    record each email in their own table before calling this.
    """
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email], fail_silently=False)
