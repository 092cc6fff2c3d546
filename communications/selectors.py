"""Reads for cadence reminders, internal summaries, the public status page and enterprise work."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from incidents.models import Incident, ResponseRole, RoleAssignment, Service, StatusUpdate
from incidents.selectors import incident_visible_filter
from paging.models import EscalationContact

from .models import (
    CadenceReminder,
    CommunicationPolicy,
    EnterpriseNotice,
    EnterpriseNotificationPolicy,
    IncidentCommunication,
    InternalChannel,
    Subscriber,
)

ENGINEERING_MANAGER_GROUP = "Managers"


def communication_policy_get() -> CommunicationPolicy:
    """Return the loaded communication policy; raises DoesNotExist before load_arka_policy."""
    return CommunicationPolicy.objects.get(key=CommunicationPolicy.DEFAULT_KEY)


def enterprise_notification_policy_get() -> EnterpriseNotificationPolicy | None:
    return EnterpriseNotificationPolicy.objects.filter(key=CommunicationPolicy.DEFAULT_KEY).first()


def internal_channel_list(*, sends: str) -> list[InternalChannel]:
    return list(InternalChannel.objects.filter(sends=sends, is_active=True).order_by("id"))


def engineering_manager_get():
    """Return the engineering manager to escalate to.

    That is the active holder of the L2 escalation contact (set in the paging admin), or else the
    first active member of the Managers group by id.
    """
    contact = (
        EscalationContact.objects.select_related("holder")
        .filter(key=EscalationContact.ENGINEERING_MANAGER, holder__is_active=True)
        .first()
    )
    if contact is not None:
        return contact.holder
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=ENGINEERING_MANAGER_GROUP)
        .order_by("pk")
        .first()
    )


# Cadence reminders


@dataclass(frozen=True)
class DueReminder:
    incident_id: int
    due_at: datetime.datetime
    stage: str
    recipient_id: int


def _role_prefetch() -> Prefetch:
    return Prefetch(
        "role_assignments",
        queryset=RoleAssignment.objects.filter(
            role__key__in=[ResponseRole.INCIDENT_COMMANDER, ResponseRole.COMMUNICATIONS_LEAD]
        )
        .select_related("role")
        .order_by("assigned_at", "pk"),
        to_attr="cadence_roles",
    )


def _holder_id(incident: Incident, role_key: str) -> int | None:
    for assignment in incident.cadence_roles:
        if assignment.role.key == role_key:
            return assignment.user_id
    return None


def _reminder_interval(incident: Incident) -> datetime.timedelta | None:
    """Return the interval that led to the current due time: first update, or the cadence."""
    severity = incident.severity
    if incident.last_public_update_at is None:
        return severity.first_update_within
    return severity.update_every


def _reminder_plan(
    incident: Incident, *, lead_time: datetime.timedelta, manager_id: int | None
) -> list[tuple[str, datetime.datetime, int]]:
    """Return (stage, send at, recipient id) for every reminder about the current due time.

    The communications lead (the incident commander when none is assigned) hears before the due
    time and at it. Each further full interval overdue adds the next person of the escalation
    chain, commander then engineering manager, skipping anyone already reminded.
    """
    due_at = incident.next_update_due_at
    commander_id = _holder_id(incident, ResponseRole.INCIDENT_COMMANDER)
    lead_id = _holder_id(incident, ResponseRole.COMMUNICATIONS_LEAD) or commander_id
    plan = []
    if lead_id is not None:
        plan.append((CadenceReminder.Stage.DUE_SOON, due_at - lead_time, lead_id))
        plan.append((CadenceReminder.Stage.OVERDUE, due_at, lead_id))
    interval = _reminder_interval(incident)
    if interval is None:
        return plan
    chain = []
    for person_id in (commander_id, manager_id):
        if person_id is not None and person_id != lead_id and person_id not in chain:
            chain.append(person_id)
    for step, person_id in enumerate(chain, start=1):
        plan.append((CadenceReminder.Stage.ESCALATED, due_at + step * interval, person_id))
    return plan


def cadence_reminder_due_list(*, now: datetime.datetime) -> list[DueReminder]:
    """Return the reminders to send now, in a fixed number of queries whatever the load.

    A due-soon reminder whose due time has already passed is dropped, because the overdue
    reminder replaces it.
    """
    policy = communication_policy_get()
    lead_time = policy.reminder_before_due
    incidents = list(
        Incident.objects.filter(
            resolved_at__isnull=True,
            next_update_due_at__isnull=False,
            next_update_due_at__lte=now + lead_time,
        )
        .select_related("severity")
        .prefetch_related(
            _role_prefetch(),
            Prefetch(
                "cadence_reminders",
                queryset=CadenceReminder.objects.all(),
                to_attr="sent_reminders",
            ),
        )
        .order_by("next_update_due_at", "pk")
    )
    if not incidents:
        return []
    manager = engineering_manager_get()
    manager_id = manager.pk if manager is not None else None
    due = []
    for incident in incidents:
        sent = {
            (reminder.stage, reminder.recipient_id)
            for reminder in incident.sent_reminders
            if reminder.due_at == incident.next_update_due_at
        }
        plan = _reminder_plan(incident, lead_time=lead_time, manager_id=manager_id)
        for stage, send_at, recipient_id in plan:
            if send_at > now or (stage, recipient_id) in sent:
                continue
            if stage == CadenceReminder.Stage.DUE_SOON and now >= incident.next_update_due_at:
                continue
            due.append(DueReminder(incident.pk, incident.next_update_due_at, stage, recipient_id))
    return due


def incident_communication_due_list(*, now: datetime.datetime) -> list[int]:
    """Return the ids of incidents whose leadership summary is due."""
    return list(
        IncidentCommunication.objects.filter(
            leadership_summary_due_at__lte=now, incident__resolved_at__isnull=True
        )
        .order_by("leadership_summary_due_at")
        .values_list("incident_id", flat=True)
    )


# Public status page


def public_incident_list() -> QuerySet[Incident]:
    """Return the incidents the public may see: with a public update, and not security ones.

    This is the one place that decides what leaves the portal. An incident appears only once a
    public update is posted for it, so nothing shows before the communications lead speaks.
    Security incidents are hidden by the visibility rule for the anonymous viewer (user None).
    """
    public_update = StatusUpdate.objects.filter(incident=OuterRef("pk"), is_public=True)
    return Incident.objects.filter(incident_visible_filter(None), Exists(public_update))


def public_component_list() -> QuerySet[Service]:
    return Service.objects.filter(is_public=True).order_by("name")


def public_status_update_list() -> QuerySet[StatusUpdate]:
    return StatusUpdate.objects.filter(
        is_public=True, incident__in=public_incident_list().values("pk")
    ).order_by("-posted_at", "-pk")


# Subscribers


def subscriber_for_update_list(*, update: StatusUpdate) -> QuerySet[Subscriber]:
    """Return the confirmed subscribers of any component the update's incident affects."""
    service_ids = update.incident.services.filter(is_public=True).values("pk")
    return (
        Subscriber.objects.filter(confirmed_at__isnull=False)
        .filter(Q(all_components=True) | Q(components__in=service_ids))
        .distinct()
        .order_by("pk")
    )


# Enterprise customers


def enterprise_notice_list(*, incident: Incident) -> QuerySet[EnterpriseNotice]:
    return incident.enterprise_notices.select_related(
        "customer", "success_manager", "call_done_by", "report_sent_by"
    ).order_by("customer__name")


def enterprise_notice_open_list(*, user) -> QuerySet[EnterpriseNotice]:
    """Return the calls and reports the user still owes as success manager, soonest first."""
    return (
        EnterpriseNotice.objects.filter(success_manager=user)
        .filter(
            Q(call_done_at__isnull=True, incident__resolved_at__isnull=True)
            | Q(report_due_at__isnull=False, report_sent_at__isnull=True)
        )
        .select_related("incident", "incident__severity", "customer")
        .order_by("call_due_at", "pk")
    )


def enterprise_notice_email_pending_list() -> list[int]:
    """Return the ids of notices whose first email is not sent yet, oldest deadline first."""
    return list(
        EnterpriseNotice.objects.filter(email_sent_at__isnull=True)
        .order_by("email_due_at")
        .values_list("pk", flat=True)
    )


# The public status page's data, cached as plain values


STATUS_PAGE_CACHE_KEY = "communications:status-page"
OPERATIONAL = "Operational"


def _public_update_data(update: StatusUpdate) -> dict:
    return {
        "id": update.pk,
        "status": update.status,
        "status_label": update.get_status_display(),
        "body": update.body,
        "posted_at": update.posted_at,
    }


def _public_incident_data(incident: Incident, state_words: dict) -> dict:
    updates = [_public_update_data(update) for update in incident.public_updates]
    return {
        "id": incident.pk,
        "title": incident.title,
        "is_open": incident.is_open,
        "state": updates[0]["status_label"] if updates else "",
        "impact": state_words.get(incident.severity.key, ""),
        "started_at": incident.declared_at,
        "resolved_at": incident.resolved_at,
        "updated_at": updates[0]["posted_at"] if updates else incident.declared_at,
        "components": [service.name for service in incident.public_services],
        "updates": updates,
    }


def _status_page_build(now: datetime.datetime) -> dict:
    policy = communication_policy_get()
    state_words = policy.component_states
    components = list(public_component_list())
    incidents = list(
        public_incident_list()
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=now - policy.status_page_history))
        .select_related("severity")
        .prefetch_related(
            Prefetch(
                "status_updates", queryset=public_status_update_list(), to_attr="public_updates"
            ),
            Prefetch("services", queryset=public_component_list(), to_attr="public_services"),
        )
        .order_by("-declared_at", "-pk")
    )
    open_incidents = [incident for incident in incidents if incident.is_open]
    worst_level = {}
    for incident in open_incidents:
        for service in incident.public_services:
            current = worst_level.get(service.pk)
            if current is None or incident.severity.level < current.level:
                worst_level[service.pk] = incident.severity
    component_rows = [
        {
            "name": service.name,
            "description": service.description,
            "state": state_words.get(worst_level[service.pk].key, OPERATIONAL)
            if service.pk in worst_level
            else OPERATIONAL,
            "is_operational": service.pk not in worst_level,
        }
        for service in components
    ]
    if open_incidents:
        worst = min((incident.severity for incident in open_incidents), key=lambda s: s.level)
        banner = {
            "is_operational": False,
            "text": state_words.get(worst.key) or "Service disruption",
        }
    else:
        banner = {"is_operational": True, "text": "All systems operational"}
    return {
        "generated_at": now,
        "banner": banner,
        "components": component_rows,
        "open_incidents": [_public_incident_data(i, state_words) for i in open_incidents],
        "resolved_incidents": [
            _public_incident_data(i, state_words) for i in incidents if not i.is_open
        ],
        "history_days": policy.status_page_history.days,
    }


def status_page_get(*, now: datetime.datetime | None = None) -> dict:
    """Return what the public status page shows, from the cache when it is fresh.

    Posting a public update clears the cache, so a new update shows on the next request. The
    short time to live covers edits made in the admin.
    """
    # NOTE: with the default local-memory cache each web process clears only its own copy, so
    # production needs a shared CACHE_URL (Redis) for "next request" to hold across processes.
    data = cache.get(STATUS_PAGE_CACHE_KEY)
    if data is None:
        data = _status_page_build(now or timezone.now())
        cache.set(STATUS_PAGE_CACHE_KEY, data, settings.STATUS_PAGE_CACHE_SECONDS)
    return data


def status_page_incident_get(*, incident_id: int) -> dict | None:
    data = status_page_get()
    for incident in data["open_incidents"] + data["resolved_incidents"]:
        if incident["id"] == incident_id:
            return incident
    return None
