"""Notices owed to enterprise customers during an incident: email, a call, resolution, a report."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.durations import format_duration
from incidents.models import Incident, Source, TimelineEntry
from incidents.services import timeline_entry_add
from notifications.models import Channel
from notifications.services import message_queue

from ..models import EnterpriseAccount, EnterpriseNotice
from ..selectors import enterprise_notification_policy_get
from ._common import utc_text

logger = logging.getLogger(__name__)

MANAGE_PERMISSION = "communications.manage_customer_communication"


def _schedule_email(notice_id: int) -> None:
    from ..tasks import enterprise_notice_email_task

    transaction.on_commit(lambda: enterprise_notice_email_task.delay(notice_id))


def enterprise_notices_open(*, incident: Incident) -> list[EnterpriseNotice]:
    """Open a notice per affected enterprise customer when the severity calls for one.

    Runs on declaration and on each severity change. An existing notice is kept as it is, so
    each customer is emailed and called once per incident.
    """
    policy = enterprise_notification_policy_get()
    if policy is None or incident.severity.key not in policy.severity_keys or not incident.is_open:
        return []
    customers = list(incident.customers.filter(is_enterprise=True))
    if not customers:
        return []
    managers = dict(
        EnterpriseAccount.objects.filter(customer__in=customers).values_list(
            "customer_id", "success_manager_id"
        )
    )
    existing = set(
        EnterpriseNotice.objects.filter(incident=incident).values_list("customer_id", flat=True)
    )
    now = timezone.now()
    created = []
    for customer in customers:
        if customer.pk in existing:
            continue
        notice = EnterpriseNotice.objects.create(
            incident=incident,
            customer=customer,
            success_manager_id=managers.get(customer.pk),
            email_due_at=now + policy.email_within,
            call_due_at=now + policy.success_manager_call_within,
        )
        created.append(notice)
        _schedule_email(notice.pk)
        manager = notice.success_manager
        call_owner = manager.get_username() if manager else "nobody: no success manager set"
        timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"Enterprise customer {customer.name} affected: email due by "
            f"{utc_text(notice.email_due_at)}, call due by {utc_text(notice.call_due_at)} "
            f"({call_owner})",
            details={"enterprise_notice": notice.pk, "customer": customer.name},
        )
    return created


def _contact_email_body(incident: Incident, contact_name: str) -> str:
    return (
        f"Dear {contact_name},\n\n"
        f"We are responding to an incident that affects your use of ARKA: {incident.title}.\n"
        f"It began at {utc_text(incident.declared_at)}. Our team is working on it now, and "
        "your success manager will call you to discuss the impact on your organisation.\n\n"
        "We will email you again when it is resolved.\n\nThe ARKA team"
    )


@transaction.atomic
def enterprise_notice_email_send(*, notice_id: int) -> EnterpriseNotice | None:
    """Email the customer's contacts about the incident once; returns None when already sent."""
    notice = (
        EnterpriseNotice.objects.select_for_update(skip_locked=True)
        .select_related("incident", "customer")
        .filter(pk=notice_id, email_sent_at__isnull=True)
        .first()
    )
    if notice is None:
        logger.info("Enterprise notice %s is sent, gone or being sent", notice_id)
        return None
    contacts = list(notice.customer.contacts.order_by("pk"))
    incident = notice.incident
    for contact in contacts:
        message_queue(
            channel=Channel.EMAIL,
            target=contact.email,
            subject=f"ARKA incident affecting {notice.customer.name}: {incident.title}",
            body=_contact_email_body(incident, contact.name),
            dedup_key=f"enterprise-notice:{notice.pk}:contact:{contact.pk}",
            incident=incident,
        )
    notice.email_sent_at = timezone.now()
    notice.save(update_fields=["email_sent_at", "updated_at"])
    outcome = f"emailed to {len(contacts)} contacts" if contacts else "no contact on record"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SYSTEM,
        source=Source.SYSTEM,
        message=f"Enterprise notice to {notice.customer.name}: {outcome}",
        details={"enterprise_notice": notice.pk, "contacts": len(contacts)},
    )
    return notice


def _may_manage(actor, notice: EnterpriseNotice) -> None:
    if actor is None or (actor.is_active and actor.pk == notice.success_manager_id):
        return
    if not actor.is_active or not actor.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(
            f"Only the success manager of {notice.customer.name} or someone with the permission "
            f"{MANAGE_PERMISSION!r} can do this."
        )


@transaction.atomic
def enterprise_call_complete(*, actor, notice: EnterpriseNotice) -> EnterpriseNotice:
    """Record that the success manager called the customer."""
    notice = (
        EnterpriseNotice.objects.select_for_update()
        .select_related("incident", "customer")
        .get(pk=notice.pk)
    )
    _may_manage(actor, notice)
    if notice.call_done_at is not None:
        raise ValidationError({"call_done_at": "The call is already recorded as done."})
    notice.call_done_at = timezone.now()
    notice.call_done_by = actor
    notice.save(update_fields=["call_done_at", "call_done_by", "updated_at"])
    late = notice.call_done_at - notice.call_due_at
    timing = f", {format_duration(late)} late" if late.total_seconds() > 0 else ""
    timeline_entry_add(
        incident=notice.incident,
        kind=TimelineEntry.Kind.SYSTEM,
        actor=actor,
        source=Source.WEB,
        message=f"Success manager call to {notice.customer.name} done{timing}",
        details={"enterprise_notice": notice.pk},
    )
    return notice


def _customer_timeline_text(incident: Incident) -> str:
    """Return the customer-facing timeline: declaration, each public update, resolution."""
    lines = [f"{utc_text(incident.declared_at)}  Incident declared"]
    updates = incident.status_updates.filter(is_public=True).order_by("posted_at", "pk")
    for update in updates:
        first_line = update.body.strip().splitlines()[0] if update.body.strip() else ""
        lines.append(f"{utc_text(update.posted_at)}  {update.get_status_display()}: {first_line}")
    lines.append(f"{utc_text(incident.resolved_at)}  Resolved")
    return "\n".join(lines)


def enterprise_resolution_emails_send(*, incident: Incident) -> int:
    """Email each notified customer's contacts the resolution with the timeline, once each."""
    policy = enterprise_notification_policy_get()
    notices = list(
        EnterpriseNotice.objects.select_for_update()
        .select_related("customer")
        .filter(incident=incident, resolution_email_sent_at__isnull=True)
    )
    now = timezone.now()
    for notice in notices:
        report_due_at = now + policy.detailed_report_within if policy else None
        for contact in notice.customer.contacts.order_by("pk"):
            message_queue(
                channel=Channel.EMAIL,
                target=contact.email,
                subject=f"Resolved: {incident.title}",
                body=(
                    f"Dear {contact.name},\n\nThe incident affecting {notice.customer.name} is "
                    f"resolved after {format_duration(incident.duration(now))}.\n\n"
                    f"Timeline (UTC):\n{_customer_timeline_text(incident)}\n\n"
                    "Next steps: we are reviewing the incident, and your success manager will "
                    f"send you a detailed report by {utc_text(report_due_at)}.\n\nThe ARKA team"
                ),
                dedup_key=f"enterprise-resolution:{notice.pk}:contact:{contact.pk}",
                incident=incident,
            )
        notice.resolution_email_sent_at = now
        notice.report_due_at = report_due_at
        notice.save(update_fields=["resolution_email_sent_at", "report_due_at", "updated_at"])
        timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"Resolution email to {notice.customer.name}; detailed report due by "
            f"{utc_text(report_due_at)}",
            details={"enterprise_notice": notice.pk},
        )
    return len(notices)


@transaction.atomic
def enterprise_report_mark_sent(*, actor, notice: EnterpriseNotice) -> EnterpriseNotice:
    """Record that the detailed report went to the customer."""
    notice = (
        EnterpriseNotice.objects.select_for_update()
        .select_related("incident", "customer")
        .get(pk=notice.pk)
    )
    _may_manage(actor, notice)
    if notice.report_due_at is None:
        raise ValidationError({"report_sent_at": "The report is due only after resolution."})
    if notice.report_sent_at is not None:
        raise ValidationError({"report_sent_at": "The report is already recorded as sent."})
    notice.report_sent_at = timezone.now()
    notice.report_sent_by = actor
    notice.save(update_fields=["report_sent_at", "report_sent_by", "updated_at"])
    timeline_entry_add(
        incident=notice.incident,
        kind=TimelineEntry.Kind.SYSTEM,
        actor=actor,
        source=Source.WEB,
        message=f"Detailed report sent to {notice.customer.name}",
        details={"enterprise_notice": notice.pk},
    )
    return notice
