from celery import shared_task

from . import services


@shared_task(name="paging.escalation_sweep", ignore_result=True)
def escalation_sweep_task() -> None:
    """Page the escalation steps that are due and record missed response deadlines."""
    services.escalation_sweep()
