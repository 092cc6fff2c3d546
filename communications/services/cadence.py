"""Reminders to post the next public update, and their escalation."""

import datetime
import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.durations import format_duration
from incidents.models import Incident, Source, TimelineEntry
from incidents.services import timeline_entry_add
from notifications.services import message_queue_for_user

from ..models import CadenceReminder
from ..selectors import communication_policy_get
from ._common import absolute_url, utc_text

logger = logging.getLogger(__name__)

_SUBJECTS = {
    CadenceReminder.Stage.DUE_SOON: "{reference}: public update due at {due}",
    CadenceReminder.Stage.OVERDUE: "{reference}: public update OVERDUE since {due}",
    CadenceReminder.Stage.ESCALATED: "{reference}: public update overdue {overdue}, escalated",
}


def _reminder_body(incident: Incident, stage: str, due_at, now) -> str:
    link = absolute_url("incidents:detail", incident.pk) + "#updates"
    lines = [f"{incident.reference} {incident.severity.key}: {incident.title}"]
    if stage == CadenceReminder.Stage.DUE_SOON:
        lines.append(f"The next public status update is due at {utc_text(due_at)}.")
    else:
        overdue = format_duration(now - due_at)
        lines.append(f"The public status update due at {utc_text(due_at)} is {overdue} overdue.")
    if stage == CadenceReminder.Stage.ESCALATED:
        lines.append("The communications lead was reminded and no update has been posted since.")
    lines.append(f"Post it from the template: {link}")
    return "\n".join(lines)


@transaction.atomic
def cadence_reminder_send(
    *, incident_id: int, due_at: datetime.datetime, stage: str, recipient_id: int
) -> CadenceReminder | None:
    """Remind one person once about one due time; returns None when stale or already sent.

    The reminder row is inserted first: the unique constraint makes a second, overlapping sweep
    fail here, before it queues anything.
    """
    incident = Incident.objects.select_related("severity").filter(pk=incident_id).first()
    if incident is None or not incident.is_open or incident.next_update_due_at != due_at:
        logger.info(
            "Cadence reminder for incident %s due %s is stale; nothing sent", incident_id, due_at
        )
        return None
    recipient = get_user_model().objects.filter(pk=recipient_id, is_active=True).first()
    if recipient is None:
        logger.info("Cadence reminder recipient %s is gone or inactive", recipient_id)
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            reminder = CadenceReminder.objects.create(
                incident=incident, due_at=due_at, stage=stage, recipient=recipient, sent_at=now
            )
    except IntegrityError:
        logger.info(
            "Cadence reminder %s for incident %s due %s to user %s already sent",
            stage,
            incident_id,
            due_at,
            recipient_id,
        )
        return None

    policy = communication_policy_get()
    subject = _SUBJECTS[stage].format(
        reference=incident.reference,
        due=utc_text(due_at),
        overdue=format_duration(now - due_at),
    )
    message_queue_for_user(
        user=recipient,
        channels=policy.reminder_channels,
        subject=subject,
        body=_reminder_body(incident, stage, due_at, now),
        dedup_key=f"cadence-reminder:{reminder.pk}",
        incident=incident,
    )
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SYSTEM,
        source=Source.SYSTEM,
        message=f"{reminder.get_stage_display()} reminder sent to {recipient.get_username()}: "
        f"public update due at {utc_text(due_at)}",
        details={
            "cadence_reminder": reminder.pk,
            "stage": stage,
            "due_at": due_at.isoformat(),
            "recipient": recipient.get_username(),
            "channels": list(policy.reminder_channels),
        },
    )
    logger.info(
        "Sent %s cadence reminder %s for incident %s to user %s",
        stage,
        reminder.pk,
        incident.pk,
        recipient.pk,
    )
    return reminder
