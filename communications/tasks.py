import datetime
import logging

from celery import shared_task
from django.utils import timezone

from . import selectors, services

logger = logging.getLogger(__name__)


@shared_task(name="communications.cadence_sweep", ignore_result=True)
def cadence_sweep_task() -> None:
    """Fan out one task per public-update reminder that is due now."""
    due = selectors.cadence_reminder_due_list(now=timezone.now())
    if due:
        logger.info("Cadence sweep found %s due reminders", len(due))
    for reminder in due:
        cadence_reminder_send_task.delay(
            reminder.incident_id,
            reminder.due_at.isoformat(),
            reminder.stage,
            reminder.recipient_id,
        )


@shared_task(name="communications.cadence_reminder_send", ignore_result=True)
def cadence_reminder_send_task(
    incident_id: int, due_at: str, stage: str, recipient_id: int
) -> None:
    services.cadence_reminder_send(
        incident_id=incident_id,
        due_at=datetime.datetime.fromisoformat(due_at),
        stage=stage,
        recipient_id=recipient_id,
    )


@shared_task(name="communications.leadership_summary_sweep", ignore_result=True)
def leadership_summary_sweep_task() -> None:
    """Fan out one task per incident whose leadership summary is due."""
    for incident_id in selectors.incident_communication_due_list(now=timezone.now()):
        leadership_summary_send_task.delay(incident_id)


@shared_task(name="communications.leadership_summary_send", ignore_result=True)
def leadership_summary_send_task(incident_id: int) -> None:
    services.leadership_summary_send(incident_id=incident_id)


@shared_task(name="communications.enterprise_notice_email", ignore_result=True)
def enterprise_notice_email_task(notice_id: int) -> None:
    services.enterprise_notice_email_send(notice_id=notice_id)


@shared_task(name="communications.enterprise_notice_sweep", ignore_result=True)
def enterprise_notice_sweep_task() -> None:
    """Send enterprise emails whose task was lost (a crash between commit and queue)."""
    for notice_id in selectors.enterprise_notice_email_pending_list():
        enterprise_notice_email_task.delay(notice_id)


@shared_task(name="communications.status_update_subscribers_notify", ignore_result=True)
def status_update_subscribers_notify_task(update_id: int) -> None:
    services.status_update_subscribers_notify(update_id=update_id)
