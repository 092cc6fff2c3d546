"""Incident channels in Slack.

Each channel operation (create, invite, set topic, post, archive) is stored as a ChannelOperation
row inside the incident service's transaction and run by a Celery task after commit. A task claims
its row with one conditional UPDATE, so two workers never run the same operation at once. Every
operation first checks what is already done (a stored channel ID, an archive time, Slack's
already_in_channel), so running it twice does no harm. Retries are due times on the rows, swept by
beat, and a Celery countdown only makes them happen sooner.
"""

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, ResponseRole, Source, TimelineEntry
from incidents.selectors import incident_commander_get
from incidents.services import timeline_entry_add

from .. import slack
from ..models import ChannelOperation, IncidentChannel
from ..slack import SlackCallError
from .users import slack_member_id_get

logger = logging.getLogger(__name__)

# How long an operation waits for its channel to be created before it is tried again.
CHANNEL_WAIT = datetime.timedelta(seconds=10)
# A claim left by a worker that died expires after this, so the sweep can run the operation.
CLAIM_TIMEOUT = datetime.timedelta(minutes=5)
# Suffixes -2, -3, ... are tried while Slack returns name_taken.
CHANNEL_NAME_ATTEMPTS = 20
# Slack's maximum topic length for conversations.setTopic.
TOPIC_MAX_LENGTH = 250
NO_CHANNEL_REASON = "The incident has no Slack channel: the portal did not create one."


class OperationSkipped(Exception):
    """Raised by a runner when its operation cannot apply, such as an invite for a user unknown
    to Slack. The message gives the reason."""


def _schedule(operation_id: int, countdown: float | None = None) -> None:
    from ..tasks import channel_operation_run_task

    if countdown is None:
        transaction.on_commit(lambda: channel_operation_run_task.delay(operation_id))
    else:
        transaction.on_commit(
            lambda: channel_operation_run_task.apply_async((operation_id,), countdown=countdown)
        )


def channel_operation_queue(
    *, incident: Incident, kind: str, dedup_key: str, summary: str, payload: dict | None = None
) -> ChannelOperation:
    """Store one channel operation and run it after commit; the same key yields one operation.

    Without a bot token the operation is stored as skipped, with the reason.
    """
    existing = ChannelOperation.objects.filter(dedup_key=dedup_key).first()
    if existing is not None:
        return existing
    operation = ChannelOperation(
        incident=incident,
        kind=kind,
        dedup_key=dedup_key,
        summary=summary[:200],
        payload=payload or {},
        next_attempt_at=timezone.now(),
    )
    skip_reason = slack.missing_configuration()
    if skip_reason is not None:
        operation.status = ChannelOperation.Status.SKIPPED
        operation.error = skip_reason
        operation.next_attempt_at = None
    try:
        with transaction.atomic():
            operation.save()
    except IntegrityError:
        return ChannelOperation.objects.get(dedup_key=dedup_key)
    if skip_reason is None:
        _schedule(operation.pk)
    else:
        logger.info("Skipped channel operation %s (%s): %s", operation.pk, kind, skip_reason)
    return operation


def _channel_name(incident: Incident) -> str:
    channel = IncidentChannel.objects.filter(incident=incident).first()
    return channel.name if channel is not None else incident.channel_name.lstrip("#")


def _topic_queue(incident: Incident, trigger: str) -> None:
    channel_operation_queue(
        incident=incident,
        kind=ChannelOperation.Kind.SET_TOPIC,
        dedup_key=f"topic:{incident.pk}:{trigger}",
        summary="Set the topic: severity, commander, status page",
    )


def _post_queue(incident: Incident, key: str, summary: str, text: str) -> None:
    channel_operation_queue(
        incident=incident,
        kind=ChannelOperation.Kind.POST,
        dedup_key=f"post:{incident.pk}:{key}",
        summary=summary,
        payload={"text": text},
    )


def incident_channel_open(*, incident: Incident) -> IncidentChannel:
    """Record the incident's channel and queue its creation and topic."""
    name = incident.channel_name.lstrip("#")
    channel, _ = IncidentChannel.objects.get_or_create(incident=incident, defaults={"name": name})
    channel_operation_queue(
        incident=incident,
        kind=ChannelOperation.Kind.CREATE,
        dedup_key=f"create:{incident.pk}",
        summary=f"Create #{name}",
        payload={"name": name},
    )
    _topic_queue(incident, "declared")
    return channel


def incident_channel_role_announce(*, assignment) -> None:
    """Invite a new role holder to the channel and post the change there."""
    incident = assignment.incident
    username = assignment.user.get_username()
    channel_operation_queue(
        incident=incident,
        kind=ChannelOperation.Kind.INVITE,
        dedup_key=f"invite:{incident.pk}:{assignment.user_id}",
        summary=f"Invite {username}",
        payload={"user": assignment.user_id},
    )
    text = f"{username} is now {assignment.role.name} on {incident.reference}."
    _post_queue(incident, f"role:{assignment.pk}", f"Post: {username} is {assignment.role}", text)
    # During the declaration the channel is not queued yet, and its first topic names the commander.
    channel_queued = ChannelOperation.objects.filter(
        incident=incident, kind=ChannelOperation.Kind.CREATE
    ).exists()
    if assignment.role.key == ResponseRole.INCIDENT_COMMANDER and channel_queued:
        _topic_queue(incident, f"role:{assignment.pk}")


def incident_channel_update_announce(*, update) -> None:
    """Post a status update to the incident channel."""
    visibility = "Public" if update.is_public else "Internal"
    author = update.posted_by.get_username() if update.posted_by else "the system"
    text = f"*{visibility} update [{update.get_status_display()}]* by {author}:\n{update.body}"
    _post_queue(
        update.incident,
        f"update:{update.pk}",
        f"Post {visibility.lower()} update: {update.get_status_display()}",
        text,
    )


def incident_channel_severity_announce(*, incident: Incident, previous_severity) -> None:
    """Post a severity change to the incident channel and refresh its topic."""
    entry = (
        TimelineEntry.objects.filter(incident=incident, kind=TimelineEntry.Kind.SEVERITY_CHANGED)
        .order_by("-id")
        .first()
    )
    key = entry.pk if entry is not None else incident.severity_id
    text = (
        f"Severity changed from {previous_severity.key} to {incident.severity.key}: "
        f"{incident.severity_reason}"
    )
    _post_queue(incident, f"severity:{key}", f"Post: severity {incident.severity.key}", text)
    _topic_queue(incident, f"severity:{key}")


def incident_channel_archive(*, incident: Incident) -> ChannelOperation:
    """Queue the archiving of the incident's Slack channel, once its post-mortem is published."""
    return channel_operation_queue(
        incident=incident,
        kind=ChannelOperation.Kind.ARCHIVE,
        dedup_key=f"archive:{incident.pk}",
        summary=f"Archive #{_channel_name(incident)}",
    )


# Running operations


def channel_operation_run(*, operation_id: int) -> ChannelOperation | None:
    """Run one due operation once; returns None when it is not due or another worker has it."""
    now = timezone.now()
    claimed = (
        ChannelOperation.objects.filter(
            pk=operation_id, status=ChannelOperation.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claimed_at=now)
    )
    if not claimed:
        logger.info("Channel operation %s is not due or already claimed", operation_id)
        return None
    operation = ChannelOperation.objects.select_related("incident").get(pk=operation_id)
    skip_reason = slack.missing_configuration()
    if skip_reason is not None:
        _finish(operation, ChannelOperation.Status.SKIPPED, skip_reason)
        return operation
    channel, _ = IncidentChannel.objects.get_or_create(
        incident=operation.incident,
        defaults={"name": operation.incident.channel_name.lstrip("#")},
    )
    if operation.kind != ChannelOperation.Kind.CREATE and not channel.channel_id:
        _wait_for_channel(operation, now)
        return operation

    operation.attempts += 1
    try:
        RUNNERS[operation.kind](operation, channel)
    except OperationSkipped as reason:
        _finish(operation, ChannelOperation.Status.SKIPPED, str(reason))
    except SlackCallError as error:
        _record_failure(operation, error)
    else:
        _finish(operation, ChannelOperation.Status.DONE)
        logger.info("Channel operation %s (%s) done", operation.pk, operation.kind)
    return operation


def _finish(operation: ChannelOperation, status: str, error: str = "") -> None:
    operation.status = status
    operation.error = error
    operation.next_attempt_at = None
    operation.claimed_at = None
    if status == ChannelOperation.Status.DONE:
        operation.done_at = timezone.now()
    operation.save()


def _wait_for_channel(operation: ChannelOperation, now: datetime.datetime) -> None:
    create = ChannelOperation.objects.filter(
        incident=operation.incident, kind=ChannelOperation.Kind.CREATE
    ).first()
    if create is None or create.status in (
        ChannelOperation.Status.FAILED,
        ChannelOperation.Status.SKIPPED,
    ):
        _finish(operation, ChannelOperation.Status.SKIPPED, NO_CHANNEL_REASON)
        return
    # Creating the channel runs this operation again; the due time is the fallback for the sweep.
    operation.claimed_at = None
    operation.next_attempt_at = now + CHANNEL_WAIT
    operation.error = "Waiting for the channel to be created."
    operation.save(update_fields=["claimed_at", "next_attempt_at", "error", "updated_at"])


def _record_failure(operation: ChannelOperation, error: SlackCallError) -> None:
    now = timezone.now()
    operation.error = str(error)
    operation.claimed_at = None
    transient = error.retry_after is not None
    if transient and operation.attempts < settings.CHATOPS_MAX_ATTEMPTS:
        operation.next_attempt_at = slack.retry_at(now, error, operation.attempts)
        operation.save()
        delay = (operation.next_attempt_at - now).total_seconds()
        logger.warning(
            "Channel operation %s (%s) failed on attempt %s, retrying in %ss: %s",
            operation.pk,
            operation.kind,
            operation.attempts,
            int(delay),
            error,
        )
        _schedule(operation.pk, countdown=delay)
        return
    operation.status = ChannelOperation.Status.FAILED
    operation.next_attempt_at = None
    operation.save()
    if operation.kind == ChannelOperation.Kind.CREATE:
        ChannelOperation.objects.filter(
            incident=operation.incident_id, status=ChannelOperation.Status.PENDING
        ).exclude(pk=operation.pk).update(
            status=ChannelOperation.Status.SKIPPED,
            error=NO_CHANNEL_REASON,
            next_attempt_at=None,
            claimed_at=None,
            updated_at=now,
        )
    logger.warning(
        "Channel operation %s (%s) failed for good after %s attempts: %s",
        operation.pk,
        operation.kind,
        operation.attempts,
        error,
    )


def _name_candidates(base: str):
    yield base
    for number in range(2, CHANNEL_NAME_ATTEMPTS + 1):
        yield f"{base}-{number}"


def _run_create(operation: ChannelOperation, channel: IncidentChannel) -> None:
    if channel.channel_id:
        return
    base = operation.payload.get("name") or channel.name
    # NOTE: a worker that dies after Slack created the channel but before its ID is stored leaves
    # the claim. The retry then gets name_taken and creates a second channel with a suffix.
    taken = []
    for name in _name_candidates(base):
        try:
            data = slack.call("conversations.create", name=name, is_private=False)
        except SlackCallError as error:
            if error.code != "name_taken":
                raise
            taken.append(name)
            continue
        break
    else:
        raise SlackCallError(
            f"conversations.create failed: name_taken for #{base} and {len(taken) - 1} suffixes; "
            "archive or rename old channels in Slack"
        )
    _channel_created(operation.incident, channel, data["channel"], taken)


@transaction.atomic
def _channel_created(incident, channel: IncidentChannel, slack_channel: dict, taken: list) -> None:
    channel.channel_id = slack_channel["id"]
    channel.name = slack_channel.get("name") or channel.name
    channel.save(update_fields=["channel_id", "name", "updated_at"])
    message = f"Slack channel #{channel.name} created"
    if taken:
        message += f" (#{taken[0]} was taken)"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SYSTEM,
        source=Source.SYSTEM,
        message=message,
        details={"slack_channel_id": channel.channel_id, "taken": taken},
    )
    waiting = list(
        ChannelOperation.objects.filter(
            incident=incident, status=ChannelOperation.Status.PENDING
        ).exclude(kind=ChannelOperation.Kind.CREATE)
    )
    ChannelOperation.objects.filter(pk__in=[item.pk for item in waiting]).update(
        next_attempt_at=timezone.now(), error=""
    )
    for item in waiting:
        _schedule(item.pk)


def _run_invite(operation: ChannelOperation, channel: IncidentChannel) -> None:
    user = get_user_model().objects.filter(pk=operation.payload.get("user")).first()
    if user is None:
        raise OperationSkipped("The user no longer exists.")
    member_id = slack_member_id_get(user=user)
    if not member_id:
        raise OperationSkipped(
            f"{user.get_username()} has no Slack member ID and Slack knows no member with "
            "their email; add a Slack contact method with their member ID."
        )
    try:
        slack.call("conversations.invite", channel=channel.channel_id, users=member_id)
    except SlackCallError as error:
        if error.code not in ("already_in_channel", "cant_invite_self"):
            raise


def incident_channel_topic(incident: Incident) -> str:
    """Return the channel topic: severity, incident commander and the status page link."""
    commander = incident_commander_get(incident)
    commander_name = "not assigned"
    if commander is not None:
        commander_name = commander.get_full_name() or commander.get_username()
    severity = incident.severity
    topic = (
        f"{incident.reference} {severity.key} {severity.name} | IC: {commander_name} | "
        f"Status page: {settings.PORTAL_BASE_URL}/status/"
    )
    return topic[:TOPIC_MAX_LENGTH]


def _run_set_topic(operation: ChannelOperation, channel: IncidentChannel) -> None:
    incident = Incident.objects.select_related("severity").get(pk=operation.incident_id)
    slack.call(
        "conversations.setTopic", channel=channel.channel_id, topic=incident_channel_topic(incident)
    )


def _run_post(operation: ChannelOperation, channel: IncidentChannel) -> None:
    slack.call("chat.postMessage", channel=channel.channel_id, text=operation.payload["text"])


def _run_archive(operation: ChannelOperation, channel: IncidentChannel) -> None:
    if channel.archived_at is not None:
        return
    try:
        slack.call("conversations.archive", channel=channel.channel_id)
    except SlackCallError as error:
        if error.code != "already_archived":
            raise
    with transaction.atomic():
        channel.archived_at = timezone.now()
        channel.save(update_fields=["archived_at", "updated_at"])
        timeline_entry_add(
            incident=operation.incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"Slack channel #{channel.name} archived",
            details={"slack_channel_id": channel.channel_id},
        )


RUNNERS = {
    ChannelOperation.Kind.CREATE: _run_create,
    ChannelOperation.Kind.INVITE: _run_invite,
    ChannelOperation.Kind.SET_TOPIC: _run_set_topic,
    ChannelOperation.Kind.POST: _run_post,
    ChannelOperation.Kind.ARCHIVE: _run_archive,
}


def channel_operation_due_ids(*, now: datetime.datetime, limit: int = 500) -> list[int]:
    """Return the ids of operations to run now, including those whose worker died."""
    return list(
        ChannelOperation.objects.filter(
            status=ChannelOperation.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
