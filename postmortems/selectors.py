"""Reads for the post-mortem pages, the weekly review and the tasks."""

import datetime
import zoneinfo

from django.db.models import Q, QuerySet

from incidents.models import Incident
from incidents.selectors import incident_visible_filter

from .models import (
    ActionItem,
    ActionItemPriority,
    Postmortem,
    PostmortemSettings,
    Team,
    TemplateSection,
    WeeklyReview,
    WeeklyReviewItem,
)


def postmortem_settings_get() -> PostmortemSettings:
    """Return the single settings row; raises DoesNotExist until the policy is loaded."""
    return PostmortemSettings.objects.get()


def review_zone() -> zoneinfo.ZoneInfo:
    return postmortem_settings_get().review_time_zone


def review_week_start(now: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.date:
    """Return the Monday of the week containing `now`, counted in `zone`."""
    local_date = now.astimezone(zone).date()
    return local_date - datetime.timedelta(days=local_date.weekday())


def review_today(now: datetime.datetime) -> datetime.date:
    """Return today's date in the review zone, the date against which due dates are late."""
    return now.astimezone(review_zone()).date()


def template_section_list() -> QuerySet[TemplateSection]:
    return TemplateSection.objects.order_by("position")


def priority_list() -> QuerySet[ActionItemPriority]:
    return ActionItemPriority.objects.order_by("level")


def _visible_incidents(user) -> QuerySet[Incident]:
    """Return the incidents the user may see, as a subquery; security ones only for the group."""
    return Incident.objects.filter(incident_visible_filter(user)).values("pk")


def postmortem_list(*, user) -> QuerySet[Postmortem]:
    """Return the post-mortems of the incidents the user may see."""
    return (
        Postmortem.objects.filter(incident__in=_visible_incidents(user))
        .select_related("incident__severity", "author")
        .order_by("-created_at")
    )


def postmortem_get(*, user, pk: int) -> Postmortem:
    """Return one post-mortem with what its page shows; raises Postmortem.DoesNotExist."""
    return postmortem_list(user=user).prefetch_related("reviewers", "timeline").get(pk=pk)


def postmortem_overdue_list(*, user, now: datetime.datetime) -> QuerySet[Postmortem]:
    """Return post-mortems past their deadline that were not yet sent to review."""
    return (
        postmortem_list(user=user)
        .filter(submitted_at__isnull=True, due_at__lt=now)
        .order_by("due_at")
    )


def postmortem_due_for_reminder_list(*, now: datetime.datetime) -> QuerySet[Postmortem]:
    """Return unsubmitted post-mortems due within the reminder window or already overdue."""
    reminder_before = postmortem_settings_get().reminder_before
    return (
        Postmortem.objects.filter(submitted_at__isnull=True, due_at__lte=now + reminder_before)
        .exclude(state=Postmortem.State.PUBLISHED)
        .order_by("due_at")
    )


def team_of_owner(owner) -> Team | None:
    """Return the owner's first team by name, which action items of theirs count for."""
    return Team.objects.filter(members=owner).order_by("name").first()


def action_item_list(*, user) -> QuerySet[ActionItem]:
    """Return the action items the user may see, ready for a table in a constant query count."""
    return ActionItem.objects.filter(
        Q(incident__isnull=True) | Q(incident__in=_visible_incidents(user))
    ).select_related("owner", "team", "priority", "incident__severity", "postmortem")


def action_item_open_list(*, user) -> QuerySet[ActionItem]:
    return action_item_list(user=user).filter(status__in=ActionItem.OPEN_STATUSES)


def action_item_my_open_list(*, user) -> QuerySet[ActionItem]:
    return (
        action_item_open_list(user=user).filter(owner=user).order_by("due_date", "priority__level")
    )


def action_item_history(item: ActionItem):
    return item.changes.select_related("actor").order_by("changed_at", "id")


def weekly_review_get(*, week_start: datetime.date) -> WeeklyReview:
    return WeeklyReview.objects.select_related("completed_by").get(week_start=week_start)


def weekly_review_entry_list(*, review: WeeklyReview, user=None) -> QuerySet[WeeklyReviewItem]:
    """Return the review's items; for a user, only theirs and those of the teams they manage."""
    entries = review.entries.select_related(
        "item__owner", "item__team", "item__priority", "item__incident__severity"
    ).order_by("-was_overdue", "item__due_date", "item__priority__level", "item_id")
    if user is not None:
        entries = entries.filter(
            Q(item__owner=user) | Q(item__team__managers=user),
            Q(item__incident__isnull=True) | Q(item__incident__in=_visible_incidents(user)),
        ).distinct()
    return entries
