"""Writes for post-mortems and action items, used by the pages, the incident effects and tasks.

An actor of None is the system (incident effects and Celery tasks) and skips the permission check.
The weekly review and the deadline reminders live in `reviews.py`.
"""

import datetime
import logging
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import ChecklistItem, Incident, Phase, Source, TimelineEntry
from incidents.selectors import incident_commander_get
from incidents.services import timeline_entry_add

from .models import ActionItem, ActionItemChange, Postmortem, PostmortemTimelineEntry
from .selectors import team_of_owner

logger = logging.getLogger(__name__)

WRITE_PERMISSION = "postmortems.write_postmortem"
MANAGE_PERMISSION = "postmortems.manage_action_items"

# Timeline entries that always go into the post-mortem timeline, with the template's event names.
TIMELINE_EVENT_NAMES = {
    TimelineEntry.Kind.ACKNOWLEDGED: "On-call acknowledged",
    TimelineEntry.Kind.DECLARED: "Incident declared",
    TimelineEntry.Kind.MITIGATED: "Impact mitigated",
    TimelineEntry.Kind.RESOLVED: "Service restored",
}
ALERT_EVENT_NAME = "Alert triggered"
DETECTED_EVENT_NAME = "Impact detected"
# Resolution checklist items whose tick time is a template event: position in the Resolve
# checklist (the policy lists "Root cause identified" then "Fix implemented and verified").
CHECKLIST_EVENT_NAMES = {1: "Root cause identified", 2: "Fix deployed"}

POSTMORTEM_TEXT_FIELDS = [
    "executive_summary",
    "root_cause",
    "contributing_factors",
    "what_went_well",
    "what_went_poorly",
    "lessons_learned",
    "customer_summary",
    "customers_affected",
    "requests_failed",
    "financial_impact",
    "sla_impact",
]
POSTMORTEM_EDITABLE_FIELDS = [
    *POSTMORTEM_TEXT_FIELDS,
    "impact_duration_minutes",
    "review_meeting_at",
    "author",
]
STATE_TRANSITIONS = {
    Postmortem.State.DRAFT: [Postmortem.State.IN_REVIEW],
    Postmortem.State.IN_REVIEW: [Postmortem.State.DRAFT, Postmortem.State.PUBLISHED],
    Postmortem.State.PUBLISHED: [Postmortem.State.DRAFT],
}
ACTION_ITEM_FIELDS = [
    "title",
    "description",
    "owner",
    "team",
    "priority",
    "due_date",
    "status",
    "wont_do_reason",
]


def require_permission(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to a group that has it."
        )


def _timeline_prefill(incident: Incident) -> list[tuple[datetime.datetime, str, TimelineEntry]]:
    """List the events the post-mortem timeline starts with, from the incident's record."""
    # An incident opened by hand has no alert: its first event is the detection a person reported.
    first_alert = incident.alerts.order_by("starts_at").first()
    if first_alert is not None:
        events = [(min(first_alert.starts_at, incident.detected_at), ALERT_EVENT_NAME, None)]
    else:
        events = [(incident.detected_at, DETECTED_EVENT_NAME, None)]
    entries = incident.timeline.filter(
        kind__in=list(TIMELINE_EVENT_NAMES)
    ) | incident.timeline.filter(is_starred=True)
    seen_kinds = set()
    for entry in entries.order_by("occurred_at", "id"):
        name = TIMELINE_EVENT_NAMES.get(entry.kind)
        if name is not None and entry.kind not in seen_kinds:
            seen_kinds.add(entry.kind)
            event = name if not entry.is_starred else f"{name}: {entry.message}"
        else:
            event = entry.message
        events.append((entry.occurred_at, event, entry))
    if TimelineEntry.Kind.ACKNOWLEDGED not in seen_kinds and incident.acknowledged_at:
        events.append((incident.acknowledged_at, TIMELINE_EVENT_NAMES["acknowledged"], None))
    resolve_items = ChecklistItem.objects.filter(
        incident=incident,
        phase=Phase.RESOLVE,
        position__in=list(CHECKLIST_EVENT_NAMES),
        ticked_at__isnull=False,
    )
    for item in resolve_items:
        events.append((item.ticked_at, CHECKLIST_EVENT_NAMES[item.position], None))
    return sorted(events, key=lambda event: event[0])


@transaction.atomic
def postmortem_create(*, actor, incident: Incident) -> Postmortem:
    """Create the draft post-mortem of a resolved incident, due by its severity's deadline.

    A second call for the same incident returns the existing post-mortem unchanged.
    """
    require_permission(actor, WRITE_PERMISSION)
    incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
    existing = Postmortem.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    if incident.resolved_at is None:
        raise ValidationError(
            {"incident": f"{incident.reference} is not resolved yet; resolve it first."}
        )
    severity = incident.severity
    due_within, review_within = severity.postmortem_due_within, severity.postmortem_review_within
    postmortem = Postmortem(
        incident=incident,
        due_at=incident.resolved_at + due_within if due_within else None,
        review_due_at=incident.resolved_at + review_within if review_within else None,
        author=incident_commander_get(incident) or actor,
        impact_duration_minutes=int(incident.duration(incident.resolved_at).total_seconds() // 60),
    )
    postmortem.full_clean()
    postmortem.save()
    PostmortemTimelineEntry.objects.bulk_create(
        [
            PostmortemTimelineEntry(
                postmortem=postmortem,
                occurred_at=occurred_at,
                event=event[:300],
                source_entry=entry,
            )
            for occurred_at, event, entry in _timeline_prefill(incident)
        ]
    )
    due = f", due {postmortem.due_at:%Y-%m-%d %H:%M} UTC" if postmortem.due_at else ""
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SYSTEM,
        actor=actor,
        source=Source.SYSTEM if actor is None else Source.WEB,
        message=f"Post-mortem draft created{due}",
        details={"postmortem": postmortem.pk},
    )
    logger.info("Created post-mortem %s for incident %s", postmortem.pk, incident.pk)
    return postmortem


def postmortem_create_for_resolved(*, incident: Incident) -> Postmortem | None:
    """Create the post-mortem the policy requires for a resolved incident of its severity."""
    if incident.severity.postmortem_due_within is None:
        return None
    return postmortem_create(actor=None, incident=incident)


def _lock(postmortem: Postmortem) -> Postmortem:
    return Postmortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)


@transaction.atomic
def postmortem_update(
    *, actor, postmortem: Postmortem, fields: dict, reviewers: Iterable | None = None
) -> Postmortem:
    """Change the post-mortem's text, impact, author, meeting time and reviewers."""
    require_permission(actor, WRITE_PERMISSION)
    unknown = set(fields) - set(POSTMORTEM_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable post-mortem fields: {sorted(unknown)}")
    postmortem = _lock(postmortem)
    if postmortem.state == Postmortem.State.PUBLISHED:
        raise ValidationError(
            {"state": "The post-mortem is published; move it back to draft to change it."}
        )
    for name, value in fields.items():
        if name in POSTMORTEM_TEXT_FIELDS:
            value = (value or "").strip()
        setattr(postmortem, name, value)
    postmortem.full_clean()
    postmortem.save()
    if reviewers is not None:
        postmortem.reviewers.set(reviewers)
    return postmortem


@transaction.atomic
def postmortem_timeline_set(
    *, actor, postmortem: Postmortem, entries: Iterable[tuple[datetime.datetime, str]]
) -> None:
    """Replace the post-mortem timeline with `entries` of (time, event)."""
    require_permission(actor, WRITE_PERMISSION)
    postmortem = _lock(postmortem)
    if postmortem.state == Postmortem.State.PUBLISHED:
        raise ValidationError(
            {"state": "The post-mortem is published; move it back to draft to change it."}
        )
    rows = [
        PostmortemTimelineEntry(postmortem=postmortem, occurred_at=occurred_at, event=event.strip())
        for occurred_at, event in entries
        if event.strip()
    ]
    for row in rows:
        row.full_clean(exclude=["postmortem"])
    postmortem.timeline.all().delete()
    PostmortemTimelineEntry.objects.bulk_create(rows)


@transaction.atomic
def postmortem_timeline_refresh(*, actor, postmortem: Postmortem) -> int:
    """Add incident events the timeline lacks, such as root cause and fix ticked after resolution.

    Returns how many were added. An event counts as present when an entry with the same name
    (or from the same incident timeline entry) exists, so edited times are kept.
    """
    require_permission(actor, WRITE_PERMISSION)
    postmortem = _lock(postmortem)
    present = list(postmortem.timeline.all())
    names = {entry.event for entry in present}
    sources = {entry.source_entry_id for entry in present if entry.source_entry_id}
    rows = [
        PostmortemTimelineEntry(
            postmortem=postmortem, occurred_at=occurred_at, event=event[:300], source_entry=source
        )
        for occurred_at, event, source in _timeline_prefill(postmortem.incident)
        if event not in names and (source is None or source.pk not in sources)
    ]
    PostmortemTimelineEntry.objects.bulk_create(rows)
    return len(rows)


@transaction.atomic
def postmortem_state_change(*, actor, postmortem: Postmortem, state: str) -> Postmortem:
    """Move the post-mortem between draft, in review and published."""
    require_permission(actor, WRITE_PERMISSION)
    postmortem = _lock(postmortem)
    current = Postmortem.State(postmortem.state)
    if state not in STATE_TRANSITIONS[current]:
        allowed = ", ".join(Postmortem.State(value).label for value in STATE_TRANSITIONS[current])
        raise ValidationError(
            {"state": f"The post-mortem is {current.label}; it can move to {allowed}."}
        )
    state = Postmortem.State(state)
    now = timezone.now()
    if state == Postmortem.State.IN_REVIEW:
        missing = [
            label
            for name, label in (
                ("executive_summary", "executive summary"),
                ("root_cause", "root cause"),
            )
            if not getattr(postmortem, name)
        ]
        if missing:
            raise ValidationError(
                {"state": f"Write the {' and the '.join(missing)} before sending it to review."}
            )
        postmortem.submitted_at = postmortem.submitted_at or now
    if state == Postmortem.State.PUBLISHED:
        is_reviewer = actor is not None and postmortem.reviewers.filter(pk=actor.pk).exists()
        if actor is not None and not is_reviewer and not actor.has_perm(MANAGE_PERMISSION):
            raise PermissionDenied("Only a reviewer of this post-mortem or a manager publishes it.")
        postmortem.published_at = now
    if state == Postmortem.State.DRAFT:
        postmortem.published_at = None
    postmortem.state = state
    postmortem.save(update_fields=["state", "submitted_at", "published_at", "updated_at"])
    timeline_entry_add(
        incident=postmortem.incident,
        kind=TimelineEntry.Kind.SYSTEM,
        actor=actor,
        message=f"Post-mortem moved from {current.label} to {state.label}",
        details={"postmortem": postmortem.pk, "from": current, "to": state},
    )
    if state == Postmortem.State.PUBLISHED:
        from chatops.services import incident_channel_archive

        # The policy's last post-incident step: archive the incident channel.
        incident_channel_archive(incident=postmortem.incident)
    return postmortem


def _display(value) -> str:
    if value is None or value == "":
        return ""
    if hasattr(value, "get_username"):
        return value.get_username()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


@transaction.atomic
def action_item_create(
    *,
    actor,
    postmortem: Postmortem,
    title: str,
    owner,
    priority,
    due_date: datetime.date,
    description: str = "",
    team=None,
) -> ActionItem:
    """Add an action item to a post-mortem; its team is the owner's unless given."""
    require_permission(actor, WRITE_PERMISSION)
    now = timezone.now()
    item = ActionItem(
        postmortem=postmortem,
        incident=postmortem.incident,
        title=title.strip(),
        description=description.strip(),
        owner=owner,
        team=team or team_of_owner(owner),
        priority=priority,
        due_date=due_date,
        created_at=now,
    )
    item.full_clean()
    item.save()
    ActionItemChange.objects.create(
        item=item,
        actor=actor,
        changed_at=now,
        changes={"created": ["", f"{item.title} ({priority}, {owner.get_username()})"]},
    )
    timeline_entry_add(
        incident=postmortem.incident,
        kind=TimelineEntry.Kind.SYSTEM,
        actor=actor,
        message=f"Action item added: {item.title} ({priority}, owner {owner.get_username()}, "
        f"due {due_date.isoformat()})",
        details={"action_item": item.pk},
    )
    return item


def _may_change(actor, item: ActionItem) -> bool:
    if actor is None or actor.has_perm(MANAGE_PERMISSION):
        return True
    return actor.has_perm(WRITE_PERMISSION) and item.owner_id == actor.pk


@transaction.atomic
def action_item_update(*, actor, item: ActionItem, changes: dict, comment: str = "") -> ActionItem:
    """Change fields of an action item and record the change and comment in its history.

    Its owner may change their own item; anyone else needs the manage permission. A new owner
    brings their team unless a team is given too. Closing sets closed_at; reopening clears it.
    """
    unknown = set(changes) - set(ACTION_ITEM_FIELDS)
    if unknown:
        raise ValueError(f"not editable action item fields: {sorted(unknown)}")
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if not _may_change(actor, item):
        raise PermissionDenied(
            "Only the owner of this action item or a manager (manage action items) can change it."
        )
    if "owner" in changes and "team" not in changes and changes["owner"] != item.owner:
        changes = {**changes, "team": team_of_owner(changes["owner"])}
    history = {}
    for name, value in changes.items():
        if name in ("title", "description", "wont_do_reason"):
            value = (value or "").strip()
        old = getattr(item, name)
        if old != value:
            history[name] = [_display(old), _display(value)]
            setattr(item, name, value)
    comment = comment.strip()
    if not history and not comment:
        return item
    now = timezone.now()
    if "status" in history:
        item.closed_at = None if item.is_open else now
        if item.status != ActionItem.Status.WONT_DO:
            item.wont_do_reason = ""
    if item.status == ActionItem.Status.WONT_DO and not item.wont_do_reason:
        raise ValidationError({"wont_do_reason": "Say why the action item won't be done."})
    item.full_clean()
    item.save()
    ActionItemChange.objects.create(
        item=item, actor=actor, changed_at=now, changes=history, comment=comment
    )
    logger.info("Changed action item %s: %s", item.pk, sorted(history))
    return item


@transaction.atomic
def action_item_bulk_status_change(
    *, actor, items: Iterable[ActionItem], status: str, reason: str = ""
) -> int:
    """Set the status of several action items at once; returns how many changed."""
    require_permission(actor, MANAGE_PERMISSION)
    if status not in ActionItem.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    changes = {"status": status}
    if status == ActionItem.Status.WONT_DO:
        changes["wont_do_reason"] = reason
    changed = 0
    for item in items:
        before = item.status
        item = action_item_update(actor=actor, item=item, changes=changes)
        changed += before != item.status
    return changed
