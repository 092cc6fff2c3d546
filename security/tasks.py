import logging

from celery import shared_task
from django.utils import timezone

from .models import RegulatoryObligation
from .selectors import obligation_due_list
from .services import obligation_reminder_send

logger = logging.getLogger(__name__)


@shared_task(name="security.obligation_reminders_sweep_task")
def obligation_reminders_sweep_task() -> int:
    """Fan out one reminder task per open obligation whose first reminder point is reached."""
    ids = list(obligation_due_list(now=timezone.now()).values_list("pk", flat=True))
    for obligation_id in ids:
        obligation_remind_task.delay(obligation_id)
    return len(ids)


@shared_task(name="security.obligation_remind_task")
def obligation_remind_task(obligation_id: int) -> bool:
    """Send the reminder due now for one obligation; safe to run twice or concurrently."""
    obligation = RegulatoryObligation.objects.filter(pk=obligation_id).first()
    if obligation is None or not obligation.is_open:
        logger.info("Obligation %s is gone or closed; no reminder", obligation_id)
        return False
    return obligation_reminder_send(obligation=obligation) is not None
