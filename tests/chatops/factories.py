"""Helpers for the chatops tests: requests signed as Slack signs them, and a mock Web API."""

import hashlib
import hmac
from urllib.parse import urlencode

from django.utils import timezone

from chatops import services
from chatops.tasks import channel_operation_run_task
from notifications.models import Channel, ContactMethod
from tests.http_mock import RecordingServer

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
COMMAND_URL = "/slack/commands/"


def slack_signature(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def command_data(text: str, **overrides) -> dict:
    data = {
        "token": "deprecated-verification-token",
        "team_id": "T0TEAM",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/incident",
        "text": text,
        "response_url": "http://127.0.0.1:9/commands/reply",
        "trigger_id": "1.2.3",
    }
    data.update(overrides)
    return data


def post_signed(client, data: dict, *, timestamp: int | None = None, secret=SIGNING_SECRET):
    """POST a slash command exactly as Slack does: form body, v0 signature over the raw body."""
    body = urlencode(data)
    stamp = str(timestamp if timestamp is not None else int(timezone.now().timestamp()))
    return client.post(
        COMMAND_URL,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": slack_signature(body, stamp, secret),
        },
    )


def link_slack(user, member_id: str) -> ContactMethod:
    return ContactMethod.objects.create(user=user, channel=Channel.SLACK, address=member_id)


class SlackMock(RecordingServer):
    """Slack's Web API under /api/ and a response_url under /commands/reply, on 127.0.0.1."""

    def __init__(self):
        self.members: dict[str, str] = {}
        self.created = 0
        super().__init__(default=self._answer)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def response_url(self) -> str:
        return f"{self.url}/commands/reply"

    def calls(self, method: str) -> list[dict]:
        return [request["body"] for request in self.requests_to(f"/api/{method}")]

    def replies(self) -> list[dict]:
        return [request["body"] for request in self.requests_to("/commands/reply")]

    def _answer(self, request):
        method = request["path"].removeprefix("/api/")
        body = request["body"] or {}
        if method == "conversations.create":
            self.created += 1
            channel = {"id": f"C0INC{self.created}", "name": body["name"]}
            return 200, {"ok": True, "channel": channel}, {}
        if method == "users.info":
            email = self.members.get(body.get("user"))
            if email is None:
                return 200, {"ok": False, "error": "user_not_found"}, {}
            return 200, {"ok": True, "user": {"id": body["user"], "profile": {"email": email}}}, {}
        if method == "users.lookupByEmail":
            for member_id, email in self.members.items():
                if email == body.get("email"):
                    return 200, {"ok": True, "user": {"id": member_id}}, {}
            return 200, {"ok": False, "error": "users_not_found"}, {}
        return 200, {"ok": True}, {}


def run_due_operations(rounds: int = 3) -> None:
    """Run every due channel operation as the worker would, until none is due."""
    for _ in range(rounds):
        due = services.channel_operation_due_ids(now=timezone.now())
        if not due:
            return
        for operation_id in due:
            channel_operation_run_task(operation_id)
