"""Accepting /incident requests from Slack and running them.

A request is verified (signature, age, replay), parsed and checked for the user and permission
while Slack waits, which it does for 3 seconds at most. Anything that changes an incident is stored
as a SlashCommand and run by a Celery task that replies through the request's response_url.
"""

import datetime
import logging

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from slack_sdk.signature import Clock, SignatureVerifier

from .. import slack
from ..commands import CommandError, Reply, command_execute, command_parse, help_text
from ..models import SlackRequest, SlashCommand
from ..slack import SlackCallError
from .users import slack_member_user_get

logger = logging.getLogger(__name__)

# Slack's documented rule for signed requests: reject any whose timestamp is more than five
# minutes from now, so a captured request cannot be replayed later.
REQUEST_MAX_AGE = datetime.timedelta(minutes=5)
RESPONSE_TIMEOUT_SECONDS = 10


class SlackRequestRejected(Exception):
    """A request that did not come from Slack, or came too late or twice; nothing was stored."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class _PortalClock(Clock):
    def now(self) -> float:
        return timezone.now().timestamp()


def slack_request_verify(*, body: bytes, timestamp: str | None, signature: str | None) -> None:
    """Check a request's v0 signature and age, then store it so a replay is rejected.

    Raises SlackRequestRejected with the HTTP status for the response.
    """
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        raise SlackRequestRejected(
            "Slack commands are not configured: set SLACK_SIGNING_SECRET.", status=503
        )
    if not timestamp or not signature:
        raise SlackRequestRejected(
            "Missing X-Slack-Request-Timestamp or X-Slack-Signature header.", status=401
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SlackRequestRejected(
            f"Invalid X-Slack-Request-Timestamp {timestamp[:20]!r}: expected Unix seconds.",
            status=401,
        ) from None
    now = timezone.now()
    if abs(now.timestamp() - sent_at) > REQUEST_MAX_AGE.total_seconds():
        raise SlackRequestRejected(
            "Stale request: its timestamp is more than 5 minutes from the portal's clock.",
            status=401,
        )
    verifier = SignatureVerifier(secret, clock=_PortalClock())
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except UnicodeDecodeError:
        valid = False
    if not valid:
        raise SlackRequestRejected("Invalid signature for this signing secret.", status=401)
    try:
        with transaction.atomic():
            SlackRequest.objects.create(
                signature=signature[:100], timestamp=sent_at, received_at=now
            )
    except IntegrityError:
        raise SlackRequestRejected(
            "Replayed request: this signature and timestamp were already accepted.", status=409
        ) from None


def slack_request_prune(*, now: datetime.datetime) -> int:
    """Delete replay-guard rows old enough that their requests are rejected as stale anyway."""
    cutoff = int((now - 2 * REQUEST_MAX_AGE).timestamp())
    deleted, _ = SlackRequest.objects.filter(timestamp__lt=cutoff).delete()
    return deleted


def _unknown_user_reply(slack_user_id: str) -> Reply:
    return Reply(
        f"Your Slack account ({slack_user_id}) matches no portal user, so nothing changed. Ask "
        f"an admin to add a Slack contact method with the member ID {slack_user_id} to your "
        "portal account, or use the same email address in Slack and the portal."
    )


def _permission_reply(actor, permission: str) -> Reply | None:
    if permission is None or (actor.is_active and actor.has_perm(permission)):
        return None
    return Reply(
        f"{actor.get_username()} lacks the permission {permission!r}, so nothing changed; ask an "
        "admin to add you to a group that has it."
    )


def slash_command_receive(*, data) -> Reply:
    """Reply to a verified /incident request now, or queue it for a worker and reply so."""
    try:
        parsed = command_parse(data.get("text", ""))
    except CommandError as error:
        return Reply(str(error))
    if parsed.name == "help":
        return Reply(help_text())
    slack_user_id = data.get("user_id", "")
    actor = slack_member_user_get(slack_user_id=slack_user_id, lookup=False)
    if actor is None and slack.missing_configuration() is not None:
        return _unknown_user_reply(slack_user_id)
    if actor is not None:
        rejection = _permission_reply(actor, parsed.subcommand.permission)
        if rejection is not None:
            return rejection
        if not parsed.subcommand.changes_incident:
            return command_execute(
                actor=actor,
                parsed=parsed,
                channel_id=data.get("channel_id", ""),
                channel_name=data.get("channel_name", ""),
            )
    if not data.get("response_url", ""):
        return Reply("The request has no response_url; Slack sends one with every command.")
    return _slash_command_queue(data=data, actor=actor)


@transaction.atomic
def _slash_command_queue(*, data, actor) -> Reply:
    from ..tasks import slash_command_run_task

    command = SlashCommand.objects.create(
        text=data.get("text", ""),
        slack_user_id=data.get("user_id", ""),
        slack_user_name=data.get("user_name", "")[:100],
        channel_id=data.get("channel_id", "")[:20],
        channel_name=data.get("channel_name", "")[:80],
        response_url=data["response_url"],
        user=actor,
    )
    transaction.on_commit(lambda: slash_command_run_task.delay(command.pk))
    logger.info("Queued slash command %s from Slack member %s", command.pk, command.slack_user_id)
    return Reply(f"Working on `/incident {command.text}`...")


def slash_command_run(*, command_id: int) -> SlashCommand | None:
    """Run a queued command once and send its reply; returns None when it already ran."""
    claimed = SlashCommand.objects.filter(pk=command_id, status=SlashCommand.Status.PENDING).update(
        status=SlashCommand.Status.RUNNING
    )
    if not claimed:
        logger.info("Slash command %s already ran or is running", command_id)
        return None
    command = SlashCommand.objects.select_related("user").get(pk=command_id)
    try:
        reply = _slash_command_reply(command)
        command.status = SlashCommand.Status.DONE
    except SlackCallError as error:
        logger.warning("Slash command %s: Slack lookup failed: %s", command.pk, error)
        reply = Reply(f"Could not look you up in Slack ({error}), so nothing changed; try again.")
        command.status = SlashCommand.Status.FAILED
    except Exception:
        # The incident services are atomic, so a failed command has changed nothing.
        logger.exception("Slash command %s failed", command.pk)
        reply = Reply("The command failed inside the portal and nothing changed; tell an admin.")
        command.status = SlashCommand.Status.FAILED
    command.reply = reply.text
    command.finished_at = timezone.now()
    command.save(update_fields=["status", "reply", "finished_at", "user"])
    _respond(command, reply)
    return command


def _slash_command_reply(command: SlashCommand) -> Reply:
    actor = command.user or slack_member_user_get(slack_user_id=command.slack_user_id)
    if actor is None:
        return _unknown_user_reply(command.slack_user_id)
    command.user = actor
    try:
        parsed = command_parse(command.text)
    except CommandError as error:
        return Reply(str(error))
    rejection = _permission_reply(actor, parsed.subcommand.permission)
    if rejection is not None:
        return rejection
    return command_execute(
        actor=actor, parsed=parsed, channel_id=command.channel_id, channel_name=command.channel_name
    )


def _respond(command: SlashCommand, reply: Reply) -> None:
    try:
        response = requests.post(
            command.response_url,
            json={**reply.as_slack(), "replace_original": False},
            timeout=RESPONSE_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
    except requests.RequestException:
        logger.warning("Reply to slash command %s failed", command.pk, exc_info=True)


def slash_command_prune(*, now: datetime.datetime, older_than: datetime.timedelta) -> int:
    """Delete finished commands older than the given age; their effects are on the timelines."""
    deleted, _ = SlashCommand.objects.filter(
        created_at__lt=now - older_than,
        status__in=[SlashCommand.Status.DONE, SlashCommand.Status.FAILED],
    ).delete()
    return deleted
