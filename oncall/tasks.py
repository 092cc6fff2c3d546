import logging

from celery import shared_task
from django.utils import timezone

from . import services
from .models import Rotation

logger = logging.getLogger(__name__)


@shared_task(name="oncall.shift_notice_sweep", ignore_result=True)
def shift_notice_sweep_task() -> None:
    """Fan out one notice task per active rotation."""
    for rotation_id in Rotation.objects.filter(is_active=True).values_list("pk", flat=True):
        rotation_shift_notices_send_task.delay(rotation_id)


@shared_task(name="oncall.rotation_shift_notices_send", ignore_result=True)
def rotation_shift_notices_send_task(rotation_id: int) -> None:
    rotation = Rotation.objects.select_related("layer").filter(pk=rotation_id).first()
    if rotation is None or not rotation.is_active:
        logger.info("Rotation %s is gone or inactive; no shift notices sent", rotation_id)
        return
    services.rotation_shift_notices_send(rotation=rotation, now=timezone.now())
