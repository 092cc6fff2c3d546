"""The weekly review of open action items, its digests, and post-mortem deadline reminders.

"Once per week" and "once per reminder" are database facts: the review's week_start, the digest's
(review, recipient) and the reminder's (post-mortem, kind, due time) are unique. Each email is
queued in the notifications outbox in the same transaction as its row, so a row that loses a race
queues nothing, and the outbox sends after commit.
"""

import datetime
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .delivery import email_queue
from .models import (
    ActionItem,
    Postmortem,
    PostmortemReminder,
    ReviewDigest,
    WeeklyReview,
    WeeklyReviewItem,
)
from .selectors import (
    postmortem_due_for_reminder_list,
    postmortem_settings_get,
    review_week_start,
    weekly_review_entry_list,
)
from .services import MANAGE_PERMISSION, require_permission

logger = logging.getLogger(__name__)


def weekly_review_start(*, now: datetime.datetime | None = None) -> tuple[WeeklyReview, bool]:
    """Create the review of the week containing `now`, its item list and its digest rows, once.

    Returns the review and whether this call created it. Concurrent calls for one week create
    one review: the unique week_start makes the losers read the winner's row.
    """
    now = now or timezone.now()
    zone = postmortem_settings_get().review_time_zone
    week_start = review_week_start(now, zone)
    try:
        with transaction.atomic():
            review = WeeklyReview.objects.create(week_start=week_start, started_at=now)
            _review_snapshot(review, today=now.astimezone(zone).date())
    except IntegrityError:
        logger.info("Weekly review of %s exists; nothing created", week_start)
        return WeeklyReview.objects.get(week_start=week_start), False
    logger.info("Started weekly review of %s", week_start)
    return review, True


def _review_snapshot(review: WeeklyReview, *, today: datetime.date) -> None:
    items = list(
        ActionItem.objects.filter(status__in=ActionItem.OPEN_STATUSES).prefetch_related(
            "team__managers"
        )
    )
    WeeklyReviewItem.objects.bulk_create(
        [
            WeeklyReviewItem(review=review, item=item, was_overdue=item.due_date < today)
            for item in items
        ]
    )
    recipients = {item.owner_id for item in items}
    for item in items:
        if item.team is not None:
            recipients.update(manager.pk for manager in item.team.managers.all())
    digests = ReviewDigest.objects.bulk_create(
        [ReviewDigest(review=review, recipient_id=user_id) for user_id in sorted(recipients)]
    )
    for digest in ReviewDigest.objects.filter(pk__in=[d.pk for d in digests]).select_related(
        "recipient"
    ):
        subject, body = _digest_render(review, digest.recipient)
        digest.message = email_queue(
            recipient=digest.recipient,
            subject=subject,
            body=body,
            dedup_key=f"postmortems:review-digest:{review.week_start}:{digest.recipient_id}",
        )
        digest.save(update_fields=["message"])


def _digest_render(review: WeeklyReview, recipient) -> tuple[str, str]:
    entries = list(weekly_review_entry_list(review=review, user=recipient))
    context = {
        "review": review,
        "recipient": recipient,
        "own": [entry for entry in entries if entry.item.owner_id == recipient.pk],
        "team": [entry for entry in entries if entry.item.owner_id != recipient.pk],
        "review_url": settings.PORTAL_BASE_URL + review.get_absolute_url(),
    }
    subject = f"Weekly action item review, week of {review.week_start:%Y-%m-%d}"
    return subject, render_to_string("postmortems/email/review_digest.txt", context)


@transaction.atomic
def weekly_review_complete(*, actor, review: WeeklyReview, notes: str = "") -> WeeklyReview:
    """Mark the week's review done."""
    require_permission(actor, MANAGE_PERMISSION)
    review = WeeklyReview.objects.select_for_update().get(pk=review.pk)
    if review.completed_at is not None:
        raise ValidationError({"notes": f"The review of {review.week_start} is already done."})
    if actor is None:
        raise PermissionDenied("A person marks a review done.")
    review.completed_at = timezone.now()
    review.completed_by = actor
    review.notes = notes.strip()
    review.save(update_fields=["completed_at", "completed_by", "notes"])
    logger.info("Weekly review %s marked done by user %s", review.week_start, actor.pk)
    return review


def postmortem_reminder_send(
    *, postmortem_id: int, now: datetime.datetime | None = None
) -> PostmortemReminder | None:
    """Remind the author of a post-mortem due soon or overdue, once per kind and deadline."""
    now = now or timezone.now()
    reminder_before = postmortem_settings_get().reminder_before
    with transaction.atomic():
        postmortem = (
            Postmortem.objects.select_related("incident", "author")
            .filter(pk=postmortem_id, submitted_at__isnull=True, due_at__isnull=False)
            .first()
        )
        if postmortem is None or now < postmortem.due_at - reminder_before:
            return None
        kind = (
            PostmortemReminder.Kind.OVERDUE
            if now > postmortem.due_at
            else PostmortemReminder.Kind.DUE_SOON
        )
        try:
            with transaction.atomic():
                reminder = PostmortemReminder.objects.create(
                    postmortem=postmortem,
                    kind=kind,
                    due_at=postmortem.due_at,
                    recipient=postmortem.author,
                )
        except IntegrityError:
            return None
        author = postmortem.author
        if author is not None:
            context = {
                "postmortem": postmortem,
                "kind": kind,
                "url": settings.PORTAL_BASE_URL + postmortem.get_absolute_url(),
            }
            label = "overdue" if kind == PostmortemReminder.Kind.OVERDUE else "due soon"
            reminder.message = email_queue(
                recipient=author,
                subject=f"Post-mortem of {postmortem.incident.reference} is {label}",
                body=render_to_string("postmortems/email/postmortem_reminder.txt", context),
                dedup_key=f"postmortems:reminder:{reminder.pk}",
                incident=postmortem.incident,
            )
            reminder.save(update_fields=["message"])
    logger.info("Queued %s reminder for post-mortem %s", kind, postmortem.pk)
    return reminder


def postmortem_deadline_sweep(*, now: datetime.datetime | None = None) -> int:
    """Queue the due-soon and overdue reminders that are due; returns how many were queued."""
    now = now or timezone.now()
    ids = list(postmortem_due_for_reminder_list(now=now).values_list("pk", flat=True))
    return sum(postmortem_reminder_send(postmortem_id=pk, now=now) is not None for pk in ids)
