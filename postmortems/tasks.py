"""Beat tasks of the post-incident process. Each is safe to run twice and from two workers."""

import logging

from celery import shared_task

from . import reviews

logger = logging.getLogger(__name__)


@shared_task(name="postmortems.weekly_review_task")
def weekly_review_task() -> int:
    """Start this week's review unless it exists, then send the pending digests."""
    review, created = reviews.weekly_review_start()
    sent = reviews.review_digest_send_pending()
    logger.info("Weekly review %s created=%s, digests sent=%s", review.week_start, created, sent)
    return review.pk


@shared_task(name="postmortems.review_digest_sweep_task")
def review_digest_sweep_task() -> int:
    return reviews.review_digest_send_pending()


@shared_task(name="postmortems.postmortem_deadline_sweep_task")
def postmortem_deadline_sweep_task() -> int:
    return reviews.postmortem_deadline_sweep()
