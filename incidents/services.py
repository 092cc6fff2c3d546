"""Every change to an incident goes through these functions, from the web pages, the admin,
webhooks, Slack commands and Celery tasks alike. Each checks the actor's permission, validates, writes its
timeline entry in the same transaction and schedules side effects after commit. An actor of None is
the system itself (tasks and token-checked webhooks) and skips the permission check.
"""

import datetime
import logging
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from . import effects
from .durations import format_duration
from .models import (
    ChecklistItem,
    ChecklistTemplateItem,
    Customer,
    Incident,
    Phase,
    ResponseRole,
    RoleAssignment,
    Service,
    Severity,
    SeverityCriterion,
    Source,
    StatusUpdate,
    TimelineEntry,
    UpdateStatus,
)
from .selectors import incident_commander_get, severity_suggest

logger = logging.getLogger(__name__)

# Slack limits channel names to 80 characters; the brief description keeps the name readable.
CHANNEL_BRIEF_MAX_LENGTH = 30
CHANNEL_NAME_ATTEMPTS = 20


def _require_permission(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to a group that has it."
        )


def timeline_entry_add(
    *,
    incident: Incident,
    kind: str,
    message: str,
    actor=None,
    source: str = Source.WEB,
    details: dict | None = None,
    occurred_at: datetime.datetime | None = None,
) -> TimelineEntry:
    """Append an entry to the incident's timeline and mark the incident as active now."""
    now = timezone.now()
    entry = TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        message=message,
        actor=actor,
        source=source,
        details=details or {},
        occurred_at=occurred_at or now,
        recorded_at=now,
    )
    Incident.objects.filter(pk=incident.pk).update(last_activity_at=now)
    incident.last_activity_at = now
    return entry


def _channel_brief(title: str) -> str:
    words = slugify(title).split("-")
    brief = ""
    for word in words:
        candidate = f"{brief}-{word}" if brief else word
        if len(candidate) > CHANNEL_BRIEF_MAX_LENGTH:
            break
        brief = candidate
    return brief or slugify(title)[:CHANNEL_BRIEF_MAX_LENGTH] or "incident"


def _channel_name_candidates(title: str, declared_at: datetime.datetime):
    base = f"#inc-{declared_at.astimezone(datetime.UTC):%Y%m%d}-{_channel_brief(title)}"
    yield base
    for number in range(2, CHANNEL_NAME_ATTEMPTS + 1):
        yield f"{base}-{number}"


def _save_with_channel_name(incident: Incident) -> None:
    """Save a new incident under the first free channel name; the unique index settles races."""
    for name in _channel_name_candidates(incident.title, incident.declared_at):
        if Incident.objects.filter(channel_name=name).exists():
            continue
        incident.channel_name = name
        try:
            with transaction.atomic():
                incident.save()
        except IntegrityError:
            continue
        return
    raise ValidationError(
        {"title": "Too many incidents today share this title; make the title more specific."}
    )


def _checklist_copy(incident: Incident, phase: str) -> None:
    template_items = ChecklistTemplateItem.objects.filter(phase=phase).order_by("position")
    ChecklistItem.objects.bulk_create(
        [
            ChecklistItem(incident=incident, phase=phase, position=item.position, text=item.text)
            for item in template_items
        ],
        ignore_conflicts=True,
    )


def incident_update_due_compute(incident: Incident) -> datetime.datetime | None:
    """Return when the next public update is due under the incident's severity cadence."""
    if incident.resolved_at is not None:
        return None
    severity = incident.severity
    if incident.last_public_update_at is None:
        if severity.first_update_within is None:
            return None
        return incident.declared_at + severity.first_update_within
    if severity.update_every is None:
        return None
    return incident.last_public_update_at + severity.update_every


@transaction.atomic
def incident_declare(
    *,
    actor,
    title: str,
    description: str,
    impact: str,
    urgency: str,
    severity: Severity | None = None,
    severity_reason: str = "",
    criteria: Iterable[SeverityCriterion] = (),
    services: Iterable[Service] = (),
    customers: Iterable[Customer] = (),
    detected_at: datetime.datetime | None = None,
    commander=None,
    source: str = Source.WEB,
) -> Incident:
    """Declare an incident in the Detect phase, with its severity suggested from the policy."""
    _require_permission(actor, "incidents.declare_incident")
    now = timezone.now()
    criteria = list(criteria)
    suggested = severity_suggest(impact=impact, urgency=urgency, criteria=criteria)
    severity = severity or suggested
    severity_reason = severity_reason.strip()
    if suggested is not None and severity != suggested and not severity_reason:
        raise ValidationError(
            {
                "severity_reason": f"Say why this incident is {severity.key} when the matrix and "
                f"criteria suggest {suggested.key}."
            }
        )
    detected_at = detected_at or now
    if detected_at > now:
        raise ValidationError(
            {"detected_at": "Detected time is in the future; enter when it began."}
        )

    incident = Incident(
        title=title.strip(),
        description=description.strip(),
        impact=impact,
        urgency=urgency,
        severity=severity,
        suggested_severity=suggested,
        severity_reason=severity_reason,
        phase=Phase.DETECT,
        detected_at=detected_at,
        declared_at=now,
        last_activity_at=now,
        declared_by=actor,
        channel_name="#pending",
    )
    incident.full_clean(exclude=["channel_name"])
    incident.next_update_due_at = incident_update_due_compute(incident)
    _save_with_channel_name(incident)
    incident.criteria.set(criteria)
    incident.services.set(services)
    incident.customers.set(customers)
    _checklist_copy(incident, Phase.DETECT)

    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.DECLARED,
        actor=actor,
        source=source,
        message=f"Declared {severity.key} ({severity.name}): {incident.title}",
        details={
            "severity": severity.key,
            "suggested_severity": suggested.key if suggested else None,
            "severity_reason": severity_reason,
            "impact": impact,
            "urgency": urgency,
            "criteria": [criterion.text for criterion in criteria],
            "channel_name": incident.channel_name,
        },
        occurred_at=now,
    )
    if commander is not None:
        commander_role = ResponseRole.objects.get(key=ResponseRole.INCIDENT_COMMANDER)
        _role_assign(
            incident=incident, role=commander_role, user=commander, actor=actor, source=source
        )
    effects.incident_declared(incident=incident, actor=actor)
    logger.info(
        "Declared incident %s severity=%s by actor=%s", incident.pk, severity.key, _actor_id(actor)
    )
    return incident


def _actor_id(actor):
    return actor.pk if actor is not None else "system"


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)


@transaction.atomic
def incident_severity_change(
    *, actor, incident: Incident, severity: Severity, reason: str, source: str = Source.WEB
) -> Incident:
    """Change the severity with a recorded reason and restart the update clock for it."""
    _require_permission(actor, "incidents.command_incident")
    incident = _locked(incident)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for the severity change."})
    if severity.pk == incident.severity_id:
        raise ValidationError({"severity": f"The incident is already {severity.key}."})
    previous = incident.severity
    incident.severity = severity
    incident.severity_reason = reason
    incident.next_update_due_at = incident_update_due_compute(incident)
    incident.save(update_fields=["severity", "severity_reason", "next_update_due_at", "updated_at"])
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SEVERITY_CHANGED,
        actor=actor,
        source=source,
        message=f"Severity changed from {previous.key} to {severity.key}: {reason}",
        details={"from": previous.key, "to": severity.key, "reason": reason},
    )
    effects.incident_severity_changed(incident=incident, previous_severity=previous, actor=actor)
    return incident


def _role_assign(*, incident, role, user, actor, source) -> RoleAssignment:
    if not user.is_active:
        raise ValidationError(
            {"user": f"{user.get_username()} is deactivated; choose someone else."}
        )
    existing = RoleAssignment.objects.filter(incident=incident, role=role).select_related("user")
    if any(assignment.user_id == user.pk for assignment in existing):
        raise ValidationError(
            {"user": f"{user.get_username()} already holds {role.name} on {incident.reference}."}
        )
    replaced = []
    if not role.allows_multiple:
        replaced = [assignment.user.get_username() for assignment in existing]
        existing.delete()
    assignment = RoleAssignment.objects.create(
        incident=incident, role=role, user=user, assigned_by=actor, assigned_at=timezone.now()
    )
    message = f"{user.get_username()} assigned as {role.name}"
    if replaced:
        message += f", replacing {', '.join(replaced)}"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.ROLE_ASSIGNED,
        actor=actor,
        source=source,
        message=message,
        details={"role": role.key, "user": user.get_username(), "replaced": replaced},
    )
    effects.role_assigned(assignment=assignment, actor=actor)
    return assignment


@transaction.atomic
def incident_role_assign(
    *, actor, incident: Incident, role: ResponseRole, user, source: str = Source.WEB
) -> RoleAssignment:
    """Give a response role to a user; a single-holder role passes from its current holder."""
    _require_permission(actor, "incidents.work_incident")
    incident = _locked(incident)
    return _role_assign(incident=incident, role=role, user=user, actor=actor, source=source)


@transaction.atomic
def incident_role_unassign(*, actor, assignment: RoleAssignment, source: str = Source.WEB) -> None:
    """Take a response role away from its holder."""
    _require_permission(actor, "incidents.work_incident")
    incident = _locked(assignment.incident)
    username = assignment.user.get_username()
    role = assignment.role
    assignment.delete()
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.ROLE_UNASSIGNED,
        actor=actor,
        source=source,
        message=f"{username} is no longer {role.name}",
        details={"role": role.key, "user": username},
    )


@transaction.atomic
def checklist_item_tick(
    *,
    actor,
    item: ChecklistItem,
    ticked: bool = True,
    evidence: str = "",
    source: str = Source.WEB,
) -> ChecklistItem:
    """Tick or untick a checklist item, recording who and when; a repeat changes nothing."""
    _require_permission(actor, "incidents.work_incident")
    item = ChecklistItem.objects.select_for_update().select_related("incident").get(pk=item.pk)
    if item.is_ticked == ticked:
        return item
    now = timezone.now()
    if ticked:
        item.ticked_at, item.ticked_by, item.evidence = now, actor, evidence
        kind, verb = TimelineEntry.Kind.CHECKLIST_TICKED, "Ticked"
    else:
        item.ticked_at, item.ticked_by, item.evidence = None, None, ""
        kind, verb = TimelineEntry.Kind.CHECKLIST_UNTICKED, "Unticked"
    item.save(update_fields=["ticked_at", "ticked_by", "evidence"])
    details = {"item": item.text, "phase": item.phase}
    if evidence:
        details["evidence"] = evidence
    timeline_entry_add(
        incident=item.incident,
        kind=kind,
        actor=actor,
        source=source,
        message=f"{verb} {item.get_phase_display()} item: {item.text}",
        details=details,
    )
    return item


@transaction.atomic
def incident_phase_change(
    *,
    actor,
    incident: Incident,
    phase: str,
    confirm_skip: bool = False,
    source: str = Source.WEB,
) -> Incident:
    """Move the incident to its next phase and copy that phase's checklist into it.

    Only the incident commander may move it to Resolve, which resolves it. Unticked items of the
    phase being left need `confirm_skip`, and are then recorded as skipped.
    """
    _require_permission(actor, "incidents.command_incident")
    incident = _locked(incident)
    current = Phase(incident.phase)
    if phase != current.next_phase():
        allowed = current.next_phase()
        hint = f"the next phase is {allowed.label}" if allowed else "it is in its last phase"
        raise ValidationError({"phase": f"{incident.reference} is in {current.label}; {hint}."})
    phase = Phase(phase)
    if phase == Phase.RESOLVE:
        commander = incident_commander_get(incident)
        if commander is None:
            raise ValidationError(
                {"phase": "Assign an incident commander first: only they can resolve the incident."}
            )
        if actor is None or actor.pk != commander.pk:
            raise PermissionDenied(
                f"Only the incident commander ({commander.get_username()}) can move "
                f"{incident.reference} to Resolve."
            )

    now = timezone.now()
    unticked = list(
        ChecklistItem.objects.filter(incident=incident, phase=current, ticked_at__isnull=True)
    )
    if unticked and not confirm_skip:
        raise ValidationError(
            {
                "confirm_skip": f"{len(unticked)} {current.label} checklist item"
                f"{'' if len(unticked) == 1 else 's'} not ticked: "
                + "; ".join(item.text for item in unticked)
                + ". Tick them, or confirm that you skip them."
            }
        )
    ChecklistItem.objects.filter(pk__in=[item.pk for item in unticked]).update(skipped_at=now)

    incident.phase = phase
    update_fields = ["phase", "updated_at"]
    if phase == Phase.RESOLVE and incident.resolved_at is None:
        incident.resolved_at = now
        incident.mitigated_at = incident.mitigated_at or now
        incident.next_update_due_at = None
        update_fields += ["resolved_at", "mitigated_at", "next_update_due_at"]
    incident.save(update_fields=update_fields)
    _checklist_copy(incident, phase)

    skipped = [item.text for item in unticked]
    message = f"Phase changed from {current.label} to {phase.label}"
    if skipped:
        message += f", skipping {len(skipped)} unticked item{'' if len(skipped) == 1 else 's'}"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.PHASE_CHANGED,
        actor=actor,
        source=source,
        message=message,
        details={"from": current, "to": phase, "skipped": skipped},
    )
    if phase == Phase.RESOLVE:
        timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.RESOLVED,
            actor=actor,
            source=source,
            message=f"Resolved after {format_duration(incident.duration(now))}",
            details={"duration_seconds": int(incident.duration(now).total_seconds())},
        )
    effects.incident_phase_changed(incident=incident, previous_phase=current, actor=actor)
    if phase == Phase.RESOLVE:
        effects.incident_resolved(incident=incident, actor=actor)
    return incident


@transaction.atomic
def incident_acknowledge(*, actor, incident: Incident, source: str = Source.WEB) -> Incident:
    """Record the first acknowledgement of the incident; later ones change nothing."""
    _require_permission(actor, "incidents.work_incident")
    incident = _locked(incident)
    if incident.acknowledged_at is not None:
        return incident
    incident.acknowledged_at = timezone.now()
    incident.save(update_fields=["acknowledged_at", "updated_at"])
    who = actor.get_username() if actor is not None else "the system"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.ACKNOWLEDGED,
        actor=actor,
        source=source,
        message=f"Acknowledged by {who}",
    )
    effects.incident_acknowledged(incident=incident, actor=actor)
    return incident


@transaction.atomic
def incident_mitigate(*, actor, incident: Incident, source: str = Source.WEB) -> Incident:
    """Record that the impact is mitigated, ahead of the root-cause fix."""
    _require_permission(actor, "incidents.work_incident")
    incident = _locked(incident)
    if incident.mitigated_at is not None:
        raise ValidationError({"mitigated_at": f"{incident.reference} is already mitigated."})
    incident.mitigated_at = timezone.now()
    incident.save(update_fields=["mitigated_at", "updated_at"])
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.MITIGATED,
        actor=actor,
        source=source,
        message="Impact mitigated",
    )
    return incident


@transaction.atomic
def status_update_post(
    *,
    actor,
    incident: Incident,
    status: str,
    body: str,
    is_public: bool,
    source: str = Source.WEB,
) -> StatusUpdate:
    """Post a status update; a public one restarts the clock for the next public update."""
    _require_permission(actor, "incidents.work_incident")
    incident = _locked(incident)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "The update has no text; write what changed."})
    if status not in UpdateStatus.values:
        raise ValidationError(
            {"status": f"Unknown status {status!r}; use one of {', '.join(UpdateStatus.values)}."}
        )
    now = timezone.now()
    update = StatusUpdate.objects.create(
        incident=incident,
        status=status,
        body=body,
        is_public=is_public,
        posted_by=actor,
        posted_at=now,
        source=source,
    )
    update_fields = ["updated_at"]
    if is_public:
        incident.last_public_update_at = now
        incident.next_update_due_at = incident_update_due_compute(incident)
        update_fields += ["last_public_update_at", "next_update_due_at"]
    if status == UpdateStatus.MONITORING and incident.mitigated_at is None:
        incident.mitigated_at = now
        update_fields.append("mitigated_at")
    incident.save(update_fields=update_fields)
    visibility = "public" if is_public else "internal"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.UPDATE_POSTED,
        actor=actor,
        source=source,
        message=f"Posted {visibility} update: {update.get_status_display()}",
        details={"status_update": update.pk, "status": status, "public": is_public, "body": body},
    )
    effects.status_update_posted(update=update, actor=actor)
    return update


@transaction.atomic
def incident_note_add(
    *,
    actor,
    incident: Incident,
    text: str,
    occurred_at: datetime.datetime | None = None,
    source: str = Source.WEB,
) -> TimelineEntry:
    """Add a note to the timeline, back-dated to when it happened if given."""
    _require_permission(actor, "incidents.work_incident")
    text = text.strip()
    if not text:
        raise ValidationError({"text": "The note is empty; write what happened."})
    now = timezone.now()
    if occurred_at is not None and occurred_at > now:
        raise ValidationError(
            {
                "occurred_at": "That time is in the future; enter when it happened, or leave it empty."
            }
        )
    return timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.NOTE,
        actor=actor,
        source=source,
        message=text,
        details={"backdated": occurred_at is not None},
        occurred_at=occurred_at or now,
    )


def timeline_entry_star(*, actor, entry: TimelineEntry, is_starred: bool) -> TimelineEntry:
    """Star or unstar a timeline entry so it is offered to the post-mortem timeline."""
    _require_permission(actor, "incidents.work_incident")
    TimelineEntry.objects.filter(pk=entry.pk).update(is_starred=is_starred)
    entry.is_starred = is_starred
    return entry
