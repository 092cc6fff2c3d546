"""CloudWatch through SNS: the subscription is confirmed by fetching its SubscribeURL."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings

from alerts.models import Alert, SnsSubscription

from .factories import make_integration, payload_json

pytestmark = pytest.mark.django_db

LOCAL_PATTERN = r"^http://127\.0\.0\.1:\d+/"


@pytest.fixture
def sns_server():
    """A stand-in for SNS on 127.0.0.1 that records the confirmation requests it gets."""
    requests_seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests_seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            self.wfile.write(b"<ConfirmSubscriptionResponse/>")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requests_seen
    server.shutdown()
    server.server_close()


def _confirmation(subscribe_url: str) -> str:
    body = payload_json("cloudwatch", "01_subscription_confirmation.json")
    body["SubscribeURL"] = subscribe_url
    return json.dumps(body)


def test_subscription_confirmed_through_get(post, settings, sns_server):
    base_url, requests_seen = sns_server
    settings.ALERTS_SNS_SUBSCRIBE_URL_PATTERN = LOCAL_PATTERN
    _, token = make_integration("cloudwatch")

    response = post(
        "cloudwatch",
        _confirmation(f"{base_url}/?Action=ConfirmSubscription&Token=abc"),
        path_token=token,
        content_type="text/plain; charset=UTF-8",
    )

    assert response.status_code == 202
    assert requests_seen == ["/?Action=ConfirmSubscription&Token=abc"]
    subscription = SnsSubscription.objects.get()
    assert subscription.confirmed_at is not None
    assert subscription.topic_arn == "arn:aws:sns:eu-central-1:123456789012:portal-alarms"
    assert not Alert.objects.exists()


def test_subscription_url_outside_pattern_not_fetched(post, sns_server):
    base_url, requests_seen = sns_server
    _, token = make_integration("cloudwatch")

    post("cloudwatch", _confirmation(f"{base_url}/confirm"), path_token=token)

    subscription = SnsSubscription.objects.get()
    assert requests_seen == []
    assert subscription.confirmed_at is None
    assert "does not match" in subscription.last_error


def test_default_pattern_allows_only_https_amazonaws():
    pattern = django_settings.ALERTS_SNS_SUBSCRIBE_URL_PATTERN

    assert re.match(pattern, "https://sns.eu-central-1.amazonaws.com/?Action=Confirm")
    assert not re.match(pattern, "http://sns.eu-central-1.amazonaws.com/")
    assert not re.match(pattern, "https://sns.amazonaws.com.example.org/")
    assert not re.match(pattern, "https://evil.example.org/?.amazonaws.com/")
    assert not re.match(pattern, "https://user@x.amazonaws.com@evil.example.org/")


def test_failed_confirmation_recorded(post, settings):
    settings.ALERTS_SNS_SUBSCRIBE_URL_PATTERN = LOCAL_PATTERN
    _, token = make_integration("cloudwatch")

    response = post("cloudwatch", _confirmation("http://127.0.0.1:9/unreachable"), path_token=token)

    assert response.status_code == 202
    assert "Confirmation failed" in SnsSubscription.objects.get().last_error
