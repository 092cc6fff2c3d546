"""Senders for each channel. A transport raises TransientDeliveryError for errors worth a retry
(timeouts, 5xx, 429) and PermanentDeliveryError for errors that a retry cannot fix."""

import logging

import requests
from django.conf import settings
from django.core.mail import send_mail

from .models import Channel, Message

logger = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    pass


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


def _post_json(url: str, body: dict, *, headers: dict | None = None) -> requests.Response:
    try:
        response = requests.post(
            url, json=body, headers=headers or {}, timeout=HTTP_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        raise TransientDeliveryError(f"request to the provider failed: {error}") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientDeliveryError(
            f"provider answered HTTP {response.status_code}: {response.text[:200]}"
        )
    if response.status_code >= 400:
        raise PermanentDeliveryError(
            f"provider rejected the message with HTTP {response.status_code}: {response.text[:200]}"
        )
    return response


class Transport:
    channel: str

    def missing_configuration(self) -> str | None:
        """Return why this channel cannot send, or None when it is configured."""
        return None

    def send(self, message: Message) -> None:
        raise NotImplementedError


class EmailTransport(Transport):
    channel = Channel.EMAIL

    def send(self, message: Message) -> None:
        try:
            send_mail(
                message.subject,
                message.body,
                settings.DEFAULT_FROM_EMAIL,
                [message.target],
                fail_silently=False,
            )
        except OSError as error:
            raise TransientDeliveryError(f"sending email failed: {error}") from error


class SlackWebhookTransport(Transport):
    channel = Channel.SLACK

    def missing_configuration(self) -> str | None:
        if not settings.SLACK_WEBHOOK_URL:
            return "Slack is not configured: set SLACK_WEBHOOK_URL to an incoming-webhook URL."
        return None

    def send(self, message: Message) -> None:
        body = {"text": f"*{message.subject}*\n{message.body}"}
        if message.target.startswith("#"):
            body["channel"] = message.target
        _post_json(settings.SLACK_WEBHOOK_URL, body)


class PagerDutyTransport(Transport):
    """PagerDuty Events API v2: one dedup key per incident, so PagerDuty groups the pages."""

    channel = Channel.PAGERDUTY

    def missing_configuration(self) -> str | None:
        if not settings.PAGERDUTY_ROUTING_KEY:
            return "PagerDuty is not configured: set PAGERDUTY_ROUTING_KEY."
        return None

    def send(self, message: Message) -> None:
        event = {
            "routing_key": settings.PAGERDUTY_ROUTING_KEY,
            "event_action": message.payload.get("event_action", "trigger"),
            "dedup_key": message.payload.get("pagerduty_dedup_key")
            or (
                f"arka-incident-{message.incident_id}" if message.incident_id else message.dedup_key
            ),
            "payload": {
                "summary": message.subject[:1024],
                "source": "arka-portal",
                "severity": message.payload.get("pagerduty_severity", "critical"),
                "custom_details": {"body": message.body},
            },
        }
        _post_json(settings.PAGERDUTY_EVENTS_URL, event)


class HttpVoiceTextTransport(Transport):
    """SMS or phone calls through an HTTP provider that takes {"to", "message"} as JSON with a
    bearer token. Other providers fit by implementing the same Transport interface."""

    def __init__(self, channel: str, url_setting: str, token_setting: str):
        self.channel = channel
        self.url_setting = url_setting
        self.token_setting = token_setting

    def missing_configuration(self) -> str | None:
        if not getattr(settings, self.url_setting):
            return f"{Channel(self.channel).label} is not configured: set {self.url_setting}."
        return None

    def send(self, message: Message) -> None:
        token = getattr(settings, self.token_setting)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"to": message.target, "message": f"{message.subject}\n{message.body}"[:1500]}
        _post_json(getattr(settings, self.url_setting), body, headers=headers)


TRANSPORTS = {
    Channel.EMAIL: EmailTransport(),
    Channel.SLACK: SlackWebhookTransport(),
    Channel.PAGERDUTY: PagerDutyTransport(),
    Channel.SMS: HttpVoiceTextTransport(Channel.SMS, "SMS_PROVIDER_URL", "SMS_PROVIDER_TOKEN"),
    Channel.PHONE: HttpVoiceTextTransport(
        Channel.PHONE, "PHONE_PROVIDER_URL", "PHONE_PROVIDER_TOKEN"
    ),
}
