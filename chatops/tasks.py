import datetime
import logging

from celery import shared_task
from django.utils import timezone

from . import services

logger = logging.getLogger(__name__)

# Finished slash commands are kept this long for the admin, then deleted.
SLASH_COMMAND_RETENTION = datetime.timedelta(days=7)


@shared_task(name="chatops.channel_operation_run", ignore_result=True)
def channel_operation_run_task(operation_id: int) -> None:
    services.channel_operation_run(operation_id=operation_id)


@shared_task(name="chatops.channel_operation_sweep", ignore_result=True)
def channel_operation_sweep_task() -> None:
    """Run what is due: retries, waits for a channel, and operations whose task was lost."""
    due = services.channel_operation_due_ids(now=timezone.now())
    if due:
        logger.info("Channel operation sweep found %s due operations", len(due))
    for operation_id in due:
        channel_operation_run_task.delay(operation_id)


@shared_task(name="chatops.slash_command_run", ignore_result=True)
def slash_command_run_task(command_id: int) -> None:
    services.slash_command_run(command_id=command_id)


@shared_task(name="chatops.slack_request_prune", ignore_result=True)
def slack_request_prune_task() -> None:
    now = timezone.now()
    requests = services.slack_request_prune(now=now)
    commands = services.slash_command_prune(now=now, older_than=SLASH_COMMAND_RETENTION)
    logger.info("Pruned %s Slack request rows and %s slash commands", requests, commands)
