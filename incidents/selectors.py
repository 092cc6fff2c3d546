"""Reads for the incident pages, tasks and other apps. Each returns only what the viewer may see."""

import datetime
from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.db.models import Count, Exists, Prefetch, Q, QuerySet
from django.utils import timezone

from arka_portal.groups import SECURITY_GROUP

from .durations import format_duration
from .models import (
    ChecklistItem,
    Incident,
    Phase,
    PhaseDefinition,
    ResponseRole,
    RoleAssignment,
    Severity,
    SeverityCriterion,
    SeverityMatrixCell,
    StatusUpdateTemplate,
    TimelineEntry,
    UpdateStatus,
)


def severity_list() -> QuerySet[Severity]:
    return Severity.objects.order_by("level")


def severity_suggest(
    *, impact: str, urgency: str, criteria: Iterable[SeverityCriterion] = ()
) -> Severity | None:
    """Return the most severe of the matrix cell's severity and each ticked criterion's."""
    candidates = [criterion.severity for criterion in criteria]
    cell = (
        SeverityMatrixCell.objects.select_related("severity")
        .filter(impact=impact, urgency=urgency)
        .first()
    )
    if cell is not None:
        candidates.append(cell.severity)
    if not candidates:
        return None
    return min(candidates, key=lambda severity: severity.level)


def severity_matrix_get() -> dict[tuple[str, str], Severity]:
    cells = SeverityMatrixCell.objects.select_related("severity")
    return {(cell.impact, cell.urgency): cell.severity for cell in cells}


def severity_criterion_list() -> QuerySet[SeverityCriterion]:
    return SeverityCriterion.objects.select_related("severity").order_by(
        "severity__level", "position"
    )


def _commander_prefetch() -> Prefetch:
    return Prefetch(
        "role_assignments",
        queryset=RoleAssignment.objects.filter(role__key=ResponseRole.INCIDENT_COMMANDER)
        .select_related("user")
        .order_by("assigned_at"),
        to_attr="commander_assignments",
    )


def incident_visible_filter(user) -> Q:
    """Return the condition for the incidents `user` may see, for use inside one query.

    Security incidents (those with a `security.SecurityIncident` row) are visible only to active
    superusers and active members of the Security group. A user of None or an anonymous user is
    the public: it sees no security incident. Tasks that must reach every incident query
    `Incident.objects` themselves.
    """
    if user is not None and user.is_active and user.is_superuser:
        return Q()
    not_security = Q(security_record__isnull=True)
    if user is None or not user.is_authenticated or not user.is_active:
        return not_security
    # A subquery keeps the group check inside the list query, so list pages stay flat.
    in_security_group = Group.objects.filter(name=SECURITY_GROUP, user=user)
    return not_security | Q(Exists(in_security_group))


def incident_list(*, user) -> QuerySet[Incident]:
    """Return the incidents the user may see, ready for list pages (constant query count).

    Every read of incidents for a person starts here, so security incidents stay hidden from
    everyone outside the Security group in lists, searches, counts, pages, exports and the admin.
    """
    return (
        Incident.objects.filter(incident_visible_filter(user))
        .select_related("severity")
        .prefetch_related(_commander_prefetch())
    )


def incident_get(*, user, pk: int) -> Incident:
    """Return one incident with everything its page shows; raises Incident.DoesNotExist."""
    return (
        incident_list(user=user)
        .prefetch_related(
            Prefetch(
                "role_assignments",
                queryset=RoleAssignment.objects.select_related("role", "user", "assigned_by"),
                to_attr="all_role_assignments",
            ),
            "services",
            "customers",
            "criteria__severity",
        )
        .get(pk=pk)
    )


def incident_commander_get(incident: Incident):
    assignment = (
        RoleAssignment.objects.filter(incident=incident, role__key=ResponseRole.INCIDENT_COMMANDER)
        .select_related("user")
        .first()
    )
    return assignment.user if assignment else None


def incident_open_list(*, user) -> QuerySet[Incident]:
    return incident_list(user=user).filter(resolved_at__isnull=True)


def incident_my_list(*, user) -> QuerySet[Incident]:
    """Return the open incidents in which the user has any role."""
    return (
        incident_open_list(user=user)
        .filter(role_assignments__user=user)
        .distinct()
        .order_by("severity__level", "declared_at")
    )


def incident_open_count_by_severity(*, user) -> list[tuple[Severity, int]]:
    counts = dict(
        incident_open_list(user=user)
        .values_list("severity")
        .annotate(count=Count("id"))
        .values_list("severity", "count")
    )
    return [(severity, counts.get(severity.pk, 0)) for severity in severity_list()]


def incident_update_overdue_list(*, user, now: datetime.datetime) -> QuerySet[Incident]:
    return incident_open_list(user=user).filter(next_update_due_at__lt=now)


def checklist_item_overdue_list(*, user, now: datetime.datetime) -> list[ChecklistItem]:
    """Return unticked items of open incidents whose phase window, counted from detection, passed."""
    windows = {
        definition.phase: definition.due_within
        for definition in PhaseDefinition.objects.exclude(due_within=None)
    }
    if not windows:
        return []
    condition = Q()
    for phase, due_within in windows.items():
        condition |= Q(phase=phase, incident__detected_at__lt=now - due_within)
    visible = incident_open_list(user=user).values("pk")
    items = (
        ChecklistItem.objects.filter(
            condition,
            incident__in=visible,
            ticked_at__isnull=True,
            skipped_at__isnull=True,
        )
        .select_related("incident__severity")
        .order_by("incident__severity__level", "incident__detected_at", "id")
    )
    return list(items)


def checklist_item_due_at(item: ChecklistItem) -> datetime.datetime | None:
    definition = PhaseDefinition.objects.filter(phase=item.phase).first()
    if definition is None or definition.due_within is None:
        return None
    return item.incident.detected_at + definition.due_within


def incident_allowed_next_phases(incident: Incident) -> list[Phase]:
    next_phase = Phase(incident.phase).next_phase()
    return [next_phase] if next_phase else []


def timeline_entry_list(*, incident: Incident) -> QuerySet[TimelineEntry]:
    return incident.timeline.select_related("actor").order_by("occurred_at", "id")


def checklist_item_list(*, incident: Incident) -> QuerySet[ChecklistItem]:
    return incident.checklist_items.select_related("ticked_by").order_by("id")


def status_update_template_render(
    *, incident: Incident, status: str, now: datetime.datetime | None = None
) -> str:
    """Fill the policy's template for `status` with what is known about the incident.

    Facts the portal cannot know (the cause, a workaround) stay as bracketed prompts to edit.
    """
    now = now or timezone.now()
    template = StatusUpdateTemplate.objects.filter(status=status).first()
    if template is None:
        return ""
    severity = incident.severity
    services = ", ".join(service.name for service in incident.services.all())
    values = {
        "title": incident.title,
        "services": services or "[affected services]",
        "time": f"{now.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        "next_update": format_duration(severity.update_every, empty="[when]"),
        "cause": "[brief description of the cause]",
        "workaround": "[workaround, if available]",
        "duration": format_duration(incident.duration(now)),
        "root_cause": "[brief description of the root cause]",
        "report_due": format_duration(severity.postmortem_review_within, empty="[when]"),
    }
    return template.body.format_map(_KeepUnknown(values))


class _KeepUnknown(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def status_update_default_status(incident: Incident) -> str:
    if incident.resolved_at is not None:
        return UpdateStatus.RESOLVED
    if not incident.status_updates.exists():
        return UpdateStatus.INVESTIGATING
    latest = incident.status_updates.order_by("-posted_at").first()
    return latest.status
