"""Email subscribers of the public status page: double opt-in, their choice, the fan-out."""

import logging
from collections.abc import Iterable

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import Service, StatusUpdate
from notifications.models import Channel
from notifications.services import message_queue

from ..models import Subscriber
from ..selectors import STATUS_PAGE_CACHE_KEY, public_incident_list, subscriber_for_update_list
from ..tokens import confirm_token_make, subscriber_token_make
from ._common import absolute_url, utc_text

logger = logging.getLogger(__name__)


def status_page_cache_clear() -> None:
    cache.delete(STATUS_PAGE_CACHE_KEY)


def _unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute_url("communications:unsubscribe", subscriber_token_make(subscriber))


def _manage_url(subscriber: Subscriber) -> str:
    return absolute_url("communications:subscription", subscriber_token_make(subscriber))


def _list_headers(subscriber: Subscriber) -> dict:
    """Return the RFC 2369 and RFC 8058 headers that give mail clients a one-click unsubscribe."""
    return {
        "List-Unsubscribe": f"<{_unsubscribe_url(subscriber)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _footer(subscriber: Subscriber) -> str:
    return (
        "\n\n--\n"
        f"Change which components you hear about: {_manage_url(subscriber)}\n"
        f"Unsubscribe with one click: {_unsubscribe_url(subscriber)}"
    )


def _components_check(all_components: bool, components: Iterable[Service]) -> list[Service]:
    components = list(components)
    if not all_components and not components:
        raise ValidationError(
            {"components": "Choose at least one component, or subscribe to all of them."}
        )
    hidden = [service.name for service in components if not service.is_public]
    if hidden:
        raise ValidationError({"components": f"Unknown component: {', '.join(hidden)}."})
    return [] if all_components else components


@transaction.atomic
def subscriber_subscribe(
    *, email: str, all_components: bool, components: Iterable[Service] = ()
) -> Subscriber:
    """Record a subscription request and email a confirmation link; nothing is sent before it.

    Subscribing an address again sends a new link and keeps its current choice until confirmed,
    so the page never reveals whether an address is subscribed.
    """
    email = email.strip().lower()
    components = _components_check(all_components, components)
    subscriber, created = Subscriber.objects.select_for_update().get_or_create(
        email=email, defaults={"all_components": all_components}
    )
    if created or not subscriber.is_confirmed:
        subscriber.all_components = all_components
        subscriber.full_clean()
        subscriber.save()
        subscriber.components.set(components)
        link = absolute_url("communications:subscribe_confirm", confirm_token_make(subscriber))
        subject = "Confirm your subscription to status updates"
        body = (
            "Someone, probably you, asked to receive ARKA status updates by email at this "
            f"address.\n\nConfirm the subscription: {link}\n\n"
            "If it was not you, ignore this email: nothing is sent until you confirm."
        )
    else:
        subject = "Your subscription to status updates"
        body = (
            "This address already receives ARKA status updates."
            f"\n\nChange which components you hear about: {_manage_url(subscriber)}"
        )
    message_queue(
        channel=Channel.EMAIL,
        target=subscriber.email,
        subject=subject,
        body=body,
        dedup_key=f"subscriber-request:{subscriber.pk}:{timezone.now().isoformat()}",
    )
    logger.info("Subscription request for subscriber %s", subscriber.pk)
    return subscriber


@transaction.atomic
def subscriber_confirm(*, subscriber: Subscriber) -> Subscriber:
    """Confirm the address; a repeat changes nothing."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at", "updated_at"])
        logger.info("Confirmed subscriber %s", subscriber.pk)
    return subscriber


@transaction.atomic
def subscriber_components_set(
    *, subscriber: Subscriber, all_components: bool, components: Iterable[Service] = ()
) -> Subscriber:
    """Change which components the subscriber hears about."""
    components = _components_check(all_components, components)
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    subscriber.all_components = all_components
    subscriber.save(update_fields=["all_components", "updated_at"])
    subscriber.components.set(components)
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber) -> None:
    """Delete the subscriber, so the address is kept nowhere; a repeat changes nothing."""
    deleted, _ = Subscriber.objects.filter(pk=subscriber.pk).delete()
    if deleted:
        logger.info("Unsubscribed subscriber %s", subscriber.pk)


def _update_email(update: StatusUpdate, subscriber: Subscriber) -> tuple[str, str]:
    incident = update.incident
    page = absolute_url("communications:status_incident", incident.pk)
    subject = f"[{update.get_status_display()}] {incident.title}"
    body = (
        f"{update.body}\n\nPosted: {utc_text(update.posted_at)}\n"
        f"Follow this incident: {page}{_footer(subscriber)}"
    )
    return subject, body


@transaction.atomic
def status_update_subscribers_notify(*, update_id: int) -> int:
    """Email a public update to each confirmed subscriber of its components, once each.

    The outbox's unique dedup key per (update, subscriber) makes a repeat run queue nothing new.
    Returns how many subscribers it covered.
    """
    update = (
        StatusUpdate.objects.select_related("incident").filter(pk=update_id, is_public=True).first()
    )
    if update is None or not public_incident_list().filter(pk=update.incident_id).exists():
        logger.info("Status update %s is not public; no subscriber emailed", update_id)
        return 0
    subscribers = list(subscriber_for_update_list(update=update))
    for subscriber in subscribers:
        subject, body = _update_email(update, subscriber)
        message_queue(
            channel=Channel.EMAIL,
            target=subscriber.email,
            subject=subject,
            body=body,
            dedup_key=f"status-update:{update.pk}:subscriber:{subscriber.pk}",
            payload={"email_headers": _list_headers(subscriber)},
        )
    logger.info("Queued status update %s for %s subscribers", update.pk, len(subscribers))
    return len(subscribers)
