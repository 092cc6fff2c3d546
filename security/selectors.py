"""Reads for security incidents, and the visibility checks every other app calls before it shows
or sends anything about an incident.

Other apps (status page, alerts, notifications, post-mortems, exports) must:
- read incidents through `incidents.selectors.incident_list(user=...)`, which hides security
  incidents from everyone outside the Security group;
- call `incident_is_restricted(incident)` before publishing anything about an incident to the
  public or to a channel, and skip restricted ones;
- call `user_may_see_incident(user, incident)` before notifying a person about an incident.
"""

import datetime

from django.db.models import Prefetch, QuerySet

from arka_portal.groups import SECURITY_GROUP
from incidents.models import Incident

from .models import (
    EvidenceItem,
    ObligationReminder,
    ProcedureStepRecord,
    Regulation,
    RegulatoryObligation,
    ReminderPoint,
    SecurityIncident,
    SecurityRole,
    SecurityRoleAssignment,
)


def user_may_see_security(user) -> bool:
    """Return whether the user may see security incidents: active superusers and group members."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=SECURITY_GROUP).exists()


def incident_is_restricted(incident: Incident) -> bool:
    """Return whether the incident is a security incident, hidden from all but the Security group."""
    return SecurityIncident.objects.filter(incident_id=incident.pk).exists()


def user_may_see_incident(user, incident: Incident) -> bool:
    """Return whether a notification or page about this incident may reach this user."""
    return user_may_see_security(user) or not incident_is_restricted(incident)


def security_incident_get(*, user, incident: Incident) -> SecurityIncident | None:
    """Return the incident's security record with what its panel shows, or None.

    Returns None too when the user may not see security incidents, so callers show nothing.
    """
    if not user_may_see_security(user):
        return None
    return (
        SecurityIncident.objects.filter(incident=incident)
        .select_related("security_class__minimum_severity", "marked_by")
        .prefetch_related(
            Prefetch(
                "role_assignments",
                queryset=SecurityRoleAssignment.objects.select_related("role", "user"),
            ),
            Prefetch(
                "steps",
                queryset=ProcedureStepRecord.objects.select_related("step", "done_by").order_by(
                    "position"
                ),
            ),
            Prefetch(
                "evidence_items",
                queryset=EvidenceItem.objects.select_related("collected_by", "recorded_by"),
            ),
            Prefetch(
                "obligations",
                queryset=RegulatoryObligation.objects.select_related(
                    "regulation", "marked_by", "closed_by"
                ).order_by("regulation__position"),
            ),
        )
        .first()
    )


def security_role_list() -> QuerySet[SecurityRole]:
    return SecurityRole.objects.order_by("position")


def regulation_list() -> QuerySet[Regulation]:
    return Regulation.objects.order_by("position")


def security_role_holder_list(*, security_incident: SecurityIncident, role_keys) -> list:
    """Return the users holding any of the given security roles on the incident."""
    assignments = SecurityRoleAssignment.objects.filter(
        security_incident=security_incident, role__key__in=role_keys
    ).select_related("user")
    return [assignment.user for assignment in assignments]


def reminder_point_list() -> list[datetime.timedelta]:
    return list(ReminderPoint.objects.order_by("-before").values_list("before", flat=True))


def obligation_due_list(*, now: datetime.datetime) -> QuerySet[RegulatoryObligation]:
    """Return the open obligations with a deadline whose first reminder point has been reached."""
    points = reminder_point_list()
    earliest = max(points, default=datetime.timedelta(0))
    return RegulatoryObligation.objects.filter(
        notified_at__isnull=True, due_at__isnull=False, due_at__lte=now + earliest
    ).order_by("due_at", "pk")


def obligation_reminder_point(
    obligation: RegulatoryObligation, *, now: datetime.datetime, points: list[datetime.timedelta]
) -> tuple[str, datetime.timedelta] | None:
    """Return the reminder due now for the obligation as (kind, before), or None.

    Past the deadline that is the overdue reminder. Before it, it is the nearest reminder point
    already reached, so an obligation marked 3 hours before its deadline gets the 6-hour reminder
    once and never a stale 24-hour one.
    """
    if obligation.due_at is None or not obligation.is_open:
        return None
    if now >= obligation.due_at:
        return ObligationReminder.Kind.OVERDUE, datetime.timedelta(0)
    reached = [before for before in points if now >= obligation.due_at - before]
    if not reached:
        return None
    return ObligationReminder.Kind.BEFORE, min(reached)
