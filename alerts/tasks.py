import datetime
import logging

from celery import shared_task
from django.utils import timezone

from . import services
from .models import Delivery

logger = logging.getLogger(__name__)

# Deliveries younger than this are still queued for the task their request queued on commit.
SWEEP_GRACE = datetime.timedelta(minutes=1)


@shared_task(name="alerts.delivery_process_task")
def delivery_process_task(delivery_id: int) -> None:
    """Process one stored delivery; a processed or missing one is skipped."""
    delivery = Delivery.objects.filter(pk=delivery_id).only("status").first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        logger.info("Delivery %s is gone or no longer pending; skipped", delivery_id)
        return
    services.delivery_process(delivery_id=delivery_id)


@shared_task(name="alerts.delivery_batch_process_task")
def delivery_batch_process_task(integration_id: int) -> None:
    """Process the integration's pending deliveries, each claimed and committed on its own."""
    services.delivery_batch_process(integration_id=integration_id)


@shared_task(name="alerts.delivery_sweep_task")
def delivery_sweep_task() -> None:
    """Queue a batch task for each integration with a delivery pending after the grace period."""
    cutoff = timezone.now() - SWEEP_GRACE
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING, received_at__lt=cutoff)
    for integration_id in (
        pending.order_by("integration_id").values_list("integration_id", flat=True).distinct()
    ):
        delivery_batch_process_task.delay(integration_id)
