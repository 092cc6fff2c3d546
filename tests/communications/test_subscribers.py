import re

import pytest
from django.core import mail
from django.urls import reverse

from communications import services
from communications.models import Subscriber
from communications.tokens import subscriber_token_make
from notifications.models import Message
from notifications.services import message_deliver
from tests.communications.factories import SubscriberFactory, declare_sev1, public_update_post
from tests.incidents.factories import ServiceFactory, commander_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return ServiceFactory(name="API", slug="api")


@pytest.fixture
def billing():
    return ServiceFactory(name="Billing", slug="billing")


@pytest.fixture
def update(api):
    commander = commander_user()
    incident = declare_sev1(actor=commander, commander=commander, services=[api])
    return public_update_post(incident, commander, body="We are investigating.")


def _link(body: str, name: str) -> str:
    return re.search(rf"http://testserver(/status/{name}/[^/\s]+/)", body)[1]


def test_subscribe_sends_confirmation_only(client, api):
    response = client.post(
        reverse("communications:subscribe"),
        {"email": "Ann@Example.org", "all_components": "1"},
    )

    subscriber = Subscriber.objects.get()
    message = Message.objects.get(target="ann@example.org")
    assert response.status_code == 302
    assert subscriber.is_confirmed is False
    assert "/status/subscribe/confirm/" in message.body


def test_confirm_link_confirms(client, api):
    client.post(
        reverse("communications:subscribe"), {"email": "ann@example.org", "all_components": "1"}
    )
    link = _link(Message.objects.get().body, "subscribe/confirm")

    response = client.post(link)

    assert response.status_code == 302
    assert Subscriber.objects.get().is_confirmed is True


def test_chosen_components_required(client, api):
    response = client.post(
        reverse("communications:subscribe"), {"email": "ann@example.org", "all_components": "0"}
    )

    assert response.status_code == 400
    assert "Choose at least one component" in response.content.decode()


def test_bad_confirm_link_rejected(client):
    response = client.get(reverse("communications:subscribe_confirm", args=["forged"]))

    assert response.status_code == 404


def test_update_emailed_to_confirmed_subscriber(update):
    subscriber = SubscriberFactory()

    services.status_update_subscribers_notify(update_id=update.pk)

    message = Message.objects.get(target=subscriber.email)
    assert "We are investigating." in message.body
    assert "/status/unsubscribe/" in message.body


def test_update_email_carries_list_unsubscribe(update):
    subscriber = SubscriberFactory()
    services.status_update_subscribers_notify(update_id=update.pk)
    message = Message.objects.get(target=subscriber.email)

    message_deliver(message_id=message.pk)

    sent = mail.outbox[-1]
    assert sent.extra_headers["List-Unsubscribe"].startswith(
        "<http://testserver/status/unsubscribe/"
    )
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_update_emailed_once_per_subscriber(update):
    subscriber = SubscriberFactory()

    services.status_update_subscribers_notify(update_id=update.pk)
    services.status_update_subscribers_notify(update_id=update.pk)

    assert Message.objects.filter(target=subscriber.email).count() == 1


def test_unconfirmed_subscriber_not_emailed(update):
    subscriber = SubscriberFactory(confirmed_at=None)

    services.status_update_subscribers_notify(update_id=update.pk)

    assert not Message.objects.filter(target=subscriber.email).exists()


def test_other_component_subscriber_not_emailed(update, billing):
    subscriber = SubscriberFactory(all_components=False)
    subscriber.components.set([billing])

    services.status_update_subscribers_notify(update_id=update.pk)

    assert not Message.objects.filter(target=subscriber.email).exists()


def test_internal_update_not_emailed(update):
    subscriber = SubscriberFactory()
    internal = public_update_post(
        update.incident, commander_user(), body="Internal note", is_public=False
    )

    services.status_update_subscribers_notify(update_id=internal.pk)

    assert not Message.objects.filter(target=subscriber.email).exists()


def test_manage_page_changes_components(client, api, billing):
    subscriber = SubscriberFactory()
    url = reverse("communications:subscription", args=[subscriber_token_make(subscriber)])

    response = client.post(url, {"all_components": "0", "components": [billing.pk]})

    subscriber.refresh_from_db()
    assert response.status_code == 302
    assert subscriber.all_components is False
    assert list(subscriber.components.all()) == [billing]


def test_one_click_unsubscribe(client):
    subscriber = SubscriberFactory()
    url = reverse("communications:unsubscribe", args=[subscriber_token_make(subscriber)])

    response = client.post(url, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert not Subscriber.objects.filter(pk=subscriber.pk).exists()
