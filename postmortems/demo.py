"""Demo post-mortem data for `make run`: a team, a filled post-mortem, action items, a review."""

import datetime

from django.utils import timezone

from incidents.models import Incident

from . import reviews, services
from .models import ActionItemPriority, Postmortem, Team


def postmortem_demo_load(*, people: dict) -> None:
    """Add the post-mortem demo on top of the incident demo; `people` maps usernames to users."""
    demo, alice, bob, carol = people["demo"], people["alice"], people["bob"], people["carol"]
    platform = Team.objects.create(name="Platform")
    platform.managers.set([demo, carol])
    platform.members.set([alice, bob])

    incident = Incident.objects.filter(resolved_at__isnull=False).order_by("resolved_at").first()
    if incident is None:
        return
    # The incident demo moves its incidents back in time after they are resolved, so the drafts
    # made at resolution get their deadlines and timelines again from the moved times.
    for draft in Postmortem.objects.select_related("incident__severity"):
        draft.due_at = draft.incident.resolved_at + draft.incident.severity.postmortem_due_within
        draft.save(update_fields=["due_at"])
        draft.timeline.all().delete()
        services.postmortem_timeline_refresh(actor=None, postmortem=draft)
    postmortem = services.postmortem_create(actor=None, incident=incident)
    postmortem = services.postmortem_update(
        actor=None,
        postmortem=postmortem,
        fields={
            "executive_summary": "Webhook deliveries were **retried twice** for about an hour "
            "because a worker pool ran out of connections. No event was lost.",
            "root_cause": "The webhook worker pool kept idle connections open after a deploy "
            "and hit the database connection limit.",
            "contributing_factors": "No alert on the worker pool's connection count\n"
            "Retry backoff too short",
            "what_went_well": "Duplicates were idempotent on the customer side",
            "what_went_poorly": "Detection came from a customer report",
            "lessons_learned": "Alert on connection pools before they are exhausted.",
            "customers_affected": "About 5%",
            "requests_failed": "0 (retried)",
            "customer_summary": "Some webhooks arrived twice for about an hour.",
        },
        reviewers=[carol],
    )
    today = timezone.localdate()
    priorities = {priority.key: priority for priority in ActionItemPriority.objects.all()}
    for title, owner, key, due_in_days in [
        ("Alert on webhook worker connection count", alice, "P1", -3),
        ("Lengthen webhook retry backoff", bob, "P2", 10),
        ("Document the webhook idempotency key", alice, "P3", 21),
    ]:
        services.action_item_create(
            actor=None,
            postmortem=postmortem,
            title=title,
            owner=owner,
            priority=priorities[key],
            due_date=today + datetime.timedelta(days=due_in_days),
        )
    # The other resolved incident's draft is left past its deadline to show the overdue marks.
    Postmortem.objects.exclude(pk=postmortem.pk).update(
        due_at=timezone.now() - datetime.timedelta(hours=2)
    )
    reviews.weekly_review_start()
