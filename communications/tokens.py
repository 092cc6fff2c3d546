"""Signed links for subscribers: confirm an address, change the choice of components, unsubscribe.

The links carry the subscriber's id and address, so a link stops working when the subscriber is
deleted, and one subscriber's link never opens another's page. Never log a token.
"""

import datetime

from django.core import signing

from .models import Subscriber

_SALT = "communications.subscriber"
_CONFIRM_SALT = "communications.subscriber.confirm"
# A confirmation link older than this is rejected; subscribing again sends a new one.
CONFIRM_MAX_AGE = datetime.timedelta(days=7)


def _value(subscriber: Subscriber) -> dict:
    return {"id": subscriber.pk, "email": subscriber.email}


def subscriber_token_make(subscriber: Subscriber) -> str:
    return signing.dumps(_value(subscriber), salt=_SALT)


def confirm_token_make(subscriber: Subscriber) -> str:
    return signing.dumps(_value(subscriber), salt=_CONFIRM_SALT)


def _subscriber_from(value: dict) -> Subscriber | None:
    return Subscriber.objects.filter(pk=value.get("id"), email=value.get("email")).first()


def subscriber_from_token(token: str) -> Subscriber | None:
    """Return the subscriber a manage or unsubscribe link names, or None for a bad link."""
    try:
        value = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return _subscriber_from(value)


def subscriber_from_confirm_token(token: str) -> Subscriber | None:
    """Return the subscriber a confirmation link names, or None if it is bad or expired."""
    try:
        value = signing.loads(token, salt=_CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    return _subscriber_from(value)
