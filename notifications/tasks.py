import logging

from celery import shared_task
from django.utils import timezone

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="notifications.message_deliver", ignore_result=True)
def message_deliver_task(message_id: int) -> None:
    services.message_deliver(message_id=message_id)


@shared_task(name="notifications.message_sweep", ignore_result=True)
def message_sweep_task() -> None:
    """Send what is due: retries, and messages whose delivery task was lost."""
    due = services.message_due_ids(now=timezone.now())
    if due:
        logger.info("Message sweep found %s due messages", len(due))
    for message_id in due:
        message_deliver_task.delay(message_id)
