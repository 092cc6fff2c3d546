"""Beat tasks of the post-incident process. Each is safe to run twice and from two workers."""

import logging

from celery import shared_task

from . import reviews

logger = logging.getLogger(__name__)


@shared_task(name="postmortems.weekly_review_task")
def weekly_review_task() -> int:
    """Start this week's review and queue its digests, unless the week's review exists."""
    review, created = reviews.weekly_review_start()
    logger.info("Weekly review %s created=%s", review.week_start, created)
    return review.pk


@shared_task(name="postmortems.postmortem_deadline_sweep_task")
def postmortem_deadline_sweep_task() -> int:
    return reviews.postmortem_deadline_sweep()
