"""Writes for security incidents. Each checks that the actor has the permission and is in the
Security group (an actor of None is the system), validates, and records what it did on the
incident's timeline in the same transaction. That timeline is hidden with the incident.
"""

import datetime
import logging
import re
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Incident, Source, TimelineEntry
from incidents.services import incident_severity_change, timeline_entry_add
from notifications.models import Channel
from notifications.services import message_queue_for_user

from .models import (
    EvidenceItem,
    ObligationReminder,
    ProcedureStep,
    ProcedureStepRecord,
    Regulation,
    RegulatoryObligation,
    SecurityClass,
    SecurityIncident,
    SecurityRole,
    SecurityRoleAssignment,
)
from .selectors import (
    obligation_reminder_point,
    reminder_point_list,
    security_role_holder_list,
    user_may_see_incident,
    user_may_see_security,
)

logger = logging.getLogger(__name__)

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Recipients of regulatory deadline reminders: the roles that decide on and send the notice.
REMINDER_ROLE_KEYS = (SecurityRole.SECURITY_LEAD, SecurityRole.LEGAL_COUNSEL)
REMINDER_CHANNELS = (Channel.EMAIL,)


def _require(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to the Security group."
        )
    if not user_may_see_security(actor):
        raise PermissionDenied(
            f"{actor.get_username()} is not in the Security group, which alone works security "
            "incidents; ask an admin to add you to it."
        )


def _username(user) -> str:
    return user.get_username() if user is not None else "the system"


def _security_timeline_add(*, security_incident, actor, message, details, kind=None, source):
    return timeline_entry_add(
        incident=security_incident.incident,
        kind=kind or TimelineEntry.Kind.NOTE,
        actor=actor,
        source=source,
        message=message,
        details={"security": True, **details},
    )


def _minimum_severity_apply(*, incident: Incident, security_class: SecurityClass) -> None:
    """Raise the incident to its class's minimum severity, as the system, if it is below it."""
    minimum = security_class.minimum_severity
    if minimum is None or incident.severity.level <= minimum.level:
        return
    incident_severity_change(
        actor=None,
        incident=incident,
        severity=minimum,
        reason=f"Security class {security_class.key} is at least {minimum.key}.",
        source=Source.SYSTEM,
    )


def security_minimum_severity_check(*, incident: Incident) -> None:
    """Raise a ValidationError if the incident is less severe than its security class allows."""
    record = (
        SecurityIncident.objects.filter(incident_id=incident.pk)
        .select_related("security_class__minimum_severity")
        .first()
    )
    if record is None:
        return
    minimum = record.security_class.minimum_severity
    if minimum is not None and incident.severity.level > minimum.level:
        raise ValidationError(
            {
                "severity": f"{incident.reference} is a {record.security_class.key} security "
                f"incident, which is at least {minimum.key}; change the security class first."
            }
        )


def _obligation_due(security_incident: SecurityIncident, regulation: Regulation):
    if regulation.deadline is None:
        return None
    return security_incident.aware_at + regulation.deadline


def _validate_aware_at(aware_at: datetime.datetime, now: datetime.datetime) -> None:
    if aware_at > now:
        raise ValidationError(
            {"aware_at": "Awareness time is in the future; enter when the team became aware."}
        )


@transaction.atomic
def security_incident_mark(
    *,
    actor,
    incident: Incident,
    security_class: SecurityClass,
    aware_at: datetime.datetime | None = None,
    source: str = Source.WEB,
) -> SecurityIncident:
    """Mark an incident as a security incident, hiding it from everyone outside the group."""
    _require(actor, "security.mark_securityincident")
    incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
    if SecurityIncident.objects.filter(incident=incident).exists():
        raise ValidationError(
            {"security_class": f"{incident.reference} is already a security incident."}
        )
    now = timezone.now()
    aware_at = aware_at or now
    _validate_aware_at(aware_at, now)
    record = SecurityIncident(
        incident=incident,
        security_class=security_class,
        aware_at=aware_at,
        marked_by=actor,
        marked_at=now,
    )
    record.full_clean()
    record.save()
    ProcedureStepRecord.objects.bulk_create(
        [
            ProcedureStepRecord(security_incident=record, step=step, position=step.position)
            for step in ProcedureStep.objects.order_by("position")
        ]
    )
    _security_timeline_add(
        security_incident=record,
        actor=actor,
        source=source,
        message=f"Marked as security incident {security_class.key} ({security_class.description});"
        f" visible to the Security group only. Aware since {aware_at:%Y-%m-%d %H:%M %Z}.",
        details={"security_class": security_class.key, "aware_at": aware_at.isoformat()},
    )
    _minimum_severity_apply(incident=incident, security_class=security_class)
    logger.info(
        "Marked incident %s as security class %s by actor=%s",
        incident.pk,
        security_class.key,
        actor.pk if actor else "system",
    )
    return record


@transaction.atomic
def security_incident_update(
    *,
    actor,
    security_incident: SecurityIncident,
    security_class: SecurityClass,
    aware_at: datetime.datetime,
    source: str = Source.WEB,
) -> SecurityIncident:
    """Change the class or the awareness time; open deadlines move with the awareness time."""
    _require(actor, "security.work_securityincident")
    record = SecurityIncident.objects.select_for_update().get(pk=security_incident.pk)
    _validate_aware_at(aware_at, timezone.now())
    changes = []
    if record.security_class_id != security_class.pk:
        changes.append(f"class {record.security_class.key} to {security_class.key}")
    if record.aware_at != aware_at:
        changes.append(f"awareness time to {aware_at:%Y-%m-%d %H:%M %Z}")
    if not changes:
        return record
    record.security_class = security_class
    record.aware_at = aware_at
    record.save(update_fields=["security_class", "aware_at", "updated_at"])
    for obligation in record.obligations.filter(notified_at__isnull=True).select_related(
        "regulation"
    ):
        obligation.due_at = _obligation_due(record, obligation.regulation)
        obligation.save(update_fields=["due_at", "updated_at"])
    _security_timeline_add(
        security_incident=record,
        actor=actor,
        source=source,
        message="Changed security " + " and ".join(changes),
        details={"security_class": security_class.key, "aware_at": aware_at.isoformat()},
    )
    _minimum_severity_apply(
        incident=Incident.objects.select_related("severity").get(pk=record.incident_id),
        security_class=security_class,
    )
    return record


@transaction.atomic
def security_role_assign(
    *,
    actor,
    security_incident: SecurityIncident,
    role: SecurityRole,
    user,
    source: str = Source.WEB,
) -> SecurityRoleAssignment:
    """Give a security role to a Security group member, replacing its current holder."""
    _require(actor, "security.work_securityincident")
    if not user_may_see_security(user):
        raise ValidationError(
            {"user": f"{user.get_username()} is not in the Security group; add them first."}
        )
    existing = SecurityRoleAssignment.objects.filter(
        security_incident=security_incident, role=role
    ).select_related("user")
    replaced = [assignment.user.get_username() for assignment in existing]
    if replaced == [user.get_username()]:
        raise ValidationError({"user": f"{user.get_username()} is already {role.name}."})
    existing.delete()
    assignment = SecurityRoleAssignment.objects.create(
        security_incident=security_incident,
        role=role,
        user=user,
        assigned_by=actor,
        assigned_at=timezone.now(),
    )
    message = f"{user.get_username()} assigned as security {role.name}"
    if replaced:
        message += f", replacing {', '.join(replaced)}"
    _security_timeline_add(
        security_incident=security_incident,
        actor=actor,
        source=source,
        kind=TimelineEntry.Kind.ROLE_ASSIGNED,
        message=message,
        details={"security_role": role.key, "user": user.get_username(), "replaced": replaced},
    )
    return assignment


@transaction.atomic
def procedure_step_tick(
    *,
    actor,
    record: ProcedureStepRecord,
    done: bool = True,
    note: str = "",
    source: str = Source.WEB,
) -> ProcedureStepRecord:
    """Mark a procedure step done or not done, keeping the policy's order of steps."""
    _require(actor, "security.work_securityincident")
    record = (
        ProcedureStepRecord.objects.select_for_update()
        .select_related("step", "security_incident__incident")
        .get(pk=record.pk)
    )
    if record.is_done == done:
        return record
    siblings = ProcedureStepRecord.objects.filter(security_incident=record.security_incident_id)
    if done:
        pending = siblings.filter(position__lt=record.position, done_at__isnull=True)
        names = [item.step.name for item in pending.select_related("step").order_by("position")]
        if names:
            raise ValidationError(
                {
                    "step": f"Finish {', '.join(names)} before {record.step.name}: "
                    "the steps are done in order."
                }
            )
        record.done_at, record.done_by, record.note = timezone.now(), actor, note.strip()
        verb = "Done"
    else:
        later = siblings.filter(position__gt=record.position, done_at__isnull=False)
        names = [item.step.name for item in later.select_related("step").order_by("position")]
        if names:
            raise ValidationError(
                {"step": f"Reopen {', '.join(reversed(names))} first: later steps are done."}
            )
        record.done_at, record.done_by, record.note = None, None, ""
        verb = "Reopened"
    record.save(update_fields=["done_at", "done_by", "note"])
    message = f"{verb} security step {record.position}. {record.step.name}: {record.step.text}"
    if record.note:
        message += f" ({record.note})"
    _security_timeline_add(
        security_incident=record.security_incident,
        actor=actor,
        source=source,
        message=message,
        details={"procedure_step": record.step.key, "done": done},
    )
    return record


@transaction.atomic
def evidence_item_add(
    *,
    actor,
    security_incident: SecurityIncident,
    description: str,
    location: str,
    collected_by,
    collected_at: datetime.datetime | None = None,
    sha256: str = "",
    custody_notes: str = "",
    source: str = Source.WEB,
) -> EvidenceItem:
    """Log an evidence item with where it is kept, its hash and its chain of custody."""
    _require(actor, "security.work_securityincident")
    now = timezone.now()
    sha256 = sha256.strip().lower()
    if sha256 and not _SHA256_RE.match(sha256):
        raise ValidationError({"sha256": "Invalid SHA-256: expected 64 hexadecimal digits."})
    collected_at = collected_at or now
    if collected_at > now:
        raise ValidationError({"collected_at": "Collection time is in the future."})
    item = EvidenceItem(
        security_incident=security_incident,
        description=description.strip(),
        location=location.strip(),
        sha256=sha256,
        collected_by=collected_by,
        collected_at=collected_at,
        custody_notes=custody_notes.strip(),
        recorded_by=actor,
    )
    item.full_clean()
    item.save()
    _security_timeline_add(
        security_incident=security_incident,
        actor=actor,
        source=source,
        message=f"Logged evidence: {item.description} (kept at {item.location})",
        details={"evidence_item": item.pk, "sha256": sha256},
    )
    return item


@transaction.atomic
def evidence_custody_note_add(
    *, actor, item: EvidenceItem, text: str, source: str = Source.WEB
) -> EvidenceItem:
    """Append a dated hand-over note to an evidence item's chain of custody; notes never change."""
    _require(actor, "security.work_securityincident")
    item = EvidenceItem.objects.select_for_update().get(pk=item.pk)
    text = text.strip()
    if not text:
        raise ValidationError({"text": "The custody note is empty; say who took it and why."})
    line = (
        f"{timezone.now().astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC {_username(actor)}: {text}"
    )
    item.custody_notes = f"{item.custody_notes}\n{line}" if item.custody_notes else line
    item.save(update_fields=["custody_notes", "updated_at"])
    _security_timeline_add(
        security_incident=item.security_incident,
        actor=actor,
        source=source,
        message=f"Custody of evidence {item.description}: {text}",
        details={"evidence_item": item.pk},
    )
    return item


def _require_legal_counsel(actor, security_incident: SecurityIncident) -> None:
    """Only the incident's legal counsel decides on regulations; superusers and the system too."""
    if actor is None or actor.is_superuser:
        return
    holders = security_role_holder_list(
        security_incident=security_incident, role_keys=[SecurityRole.LEGAL_COUNSEL]
    )
    if actor not in holders:
        raise PermissionDenied(
            "Only the incident's Legal Counsel marks regulations as applicable; assign the "
            "Legal Counsel role first."
        )


@transaction.atomic
def regulatory_obligations_mark(
    *,
    actor,
    security_incident: SecurityIncident,
    regulations: Iterable[Regulation],
    source: str = Source.WEB,
) -> list[RegulatoryObligation]:
    """Record that regulations apply; each becomes an obligation due from the awareness time."""
    _require(actor, "security.manage_regulatoryobligation")
    _require_legal_counsel(actor, security_incident)
    security_incident = SecurityIncident.objects.select_for_update().get(pk=security_incident.pk)
    regulations = list(regulations)
    if not regulations:
        raise ValidationError({"regulations": "Tick at least one regulation that applies."})
    already = set(security_incident.obligations.values_list("regulation_id", flat=True))
    now = timezone.now()
    created = []
    for regulation in regulations:
        if regulation.pk in already:
            continue
        obligation = RegulatoryObligation.objects.create(
            security_incident=security_incident,
            regulation=regulation,
            due_at=_obligation_due(security_incident, regulation),
            marked_by=actor,
            marked_at=now,
        )
        created.append(obligation)
        due = (
            f"due {obligation.due_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC"
            if obligation.due_at
            else regulation.timeline.lower()
        )
        _security_timeline_add(
            security_incident=security_incident,
            actor=actor,
            source=source,
            message=f"{regulation.name} applies: notify {regulation.authority}, {due}",
            details={"regulation": regulation.key, "obligation": obligation.pk},
        )
    if not created:
        raise ValidationError({"regulations": "Every ticked regulation is already recorded."})
    return created


@transaction.atomic
def regulatory_obligation_close(
    *,
    actor,
    obligation: RegulatoryObligation,
    notified_at: datetime.datetime,
    notice_method: str,
    notice_reference: str = "",
    source: str = Source.WEB,
) -> RegulatoryObligation:
    """Close an obligation by recording when and how the notice was sent."""
    _require(actor, "security.manage_regulatoryobligation")
    obligation = (
        RegulatoryObligation.objects.select_for_update()
        .select_related("regulation", "security_incident__incident")
        .get(pk=obligation.pk)
    )
    if not obligation.is_open:
        raise ValidationError({"notified_at": f"The {obligation.regulation} notice is recorded."})
    if notified_at > timezone.now():
        raise ValidationError({"notified_at": "Notice time is in the future."})
    notice_method = notice_method.strip()
    if not notice_method:
        raise ValidationError({"notice_method": "Say how the notice was sent."})
    obligation.notified_at = notified_at
    obligation.notice_method = notice_method
    obligation.notice_reference = notice_reference.strip()
    obligation.closed_by = actor
    obligation.full_clean()
    obligation.save()
    late = obligation.due_at is not None and notified_at > obligation.due_at
    _security_timeline_add(
        security_incident=obligation.security_incident,
        actor=actor,
        source=source,
        message=f"{obligation.regulation.name} notice sent to {obligation.regulation.authority} "
        f"by {notice_method}{' after the deadline' if late else ''}",
        details={"obligation": obligation.pk, "late": late},
    )
    return obligation


def obligation_reminder_send(
    *, obligation: RegulatoryObligation, now: datetime.datetime | None = None
) -> ObligationReminder | None:
    """Send the reminder due now for an obligation, at most once per reminder point.

    The reminder row is inserted before anything is sent, and its unique constraint makes a
    concurrent or repeated call find the point taken and return None.
    """
    now = now or timezone.now()
    with transaction.atomic():
        obligation = (
            RegulatoryObligation.objects.select_for_update()
            .select_related("regulation", "security_incident__incident")
            .get(pk=obligation.pk)
        )
        point = obligation_reminder_point(obligation, now=now, points=reminder_point_list())
        if point is None:
            return None
        kind, before = point
        try:
            with transaction.atomic():
                reminder = ObligationReminder.objects.create(
                    obligation=obligation,
                    kind=kind,
                    before=before,
                    due_at=obligation.due_at,
                    sent_at=now,
                )
        except IntegrityError:
            logger.info("Reminder %s/%s of obligation %s already sent", kind, before, obligation.pk)
            return None
        _reminder_record(obligation=obligation, reminder=reminder, now=now)
    logger.info("Sent reminder %s/%s for obligation %s", kind, before, obligation.pk)
    return reminder


def _reminder_text(obligation: RegulatoryObligation, reminder: ObligationReminder, now) -> str:
    regulation = obligation.regulation
    due = f"{obligation.due_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    if reminder.kind == ObligationReminder.Kind.OVERDUE:
        return (
            f"OVERDUE: the {regulation.name} notice to {regulation.authority} was due {due} "
            "and is not recorded as sent."
        )
    left = obligation.due_at - now
    hours, seconds = divmod(int(left.total_seconds()), 3600)
    return (
        f"{regulation.name} notice to {regulation.authority} due {due}, "
        f"in {hours} h {seconds // 60} min."
    )


def _reminder_record(*, obligation, reminder, now) -> None:
    """Record the reminder on the timeline and queue it to the security lead and legal counsel."""
    security_incident = obligation.security_incident
    incident = security_incident.incident
    holders = security_role_holder_list(
        security_incident=security_incident, role_keys=REMINDER_ROLE_KEYS
    )
    # A holder who has left the Security group since being assigned must not hear of it.
    recipients = [user for user in holders if user_may_see_incident(user, incident)]
    names = ", ".join(user.get_username() for user in recipients) or "nobody (no lead or counsel)"
    text = _reminder_text(obligation, reminder, now)
    _security_timeline_add(
        security_incident=security_incident,
        actor=None,
        source=Source.SYSTEM,
        kind=TimelineEntry.Kind.SYSTEM,
        message=f"Reminder to {names}: {text}",
        details={"obligation": obligation.pk, "reminder": reminder.pk, "kind": reminder.kind},
    )
    for user in recipients:
        message_queue_for_user(
            user=user,
            channels=REMINDER_CHANNELS,
            subject=f"{incident.reference}: {obligation.regulation.name} notice reminder",
            body=f"{text}\n\n{incident.reference} {incident.title}",
            dedup_key=f"security-obligation-reminder:{reminder.pk}:{user.pk}",
            incident=incident,
            payload={"obligation": obligation.pk, "reminder": reminder.pk},
        )
