"""Reads for the alert pages, the receiver and other apps."""

import datetime

from django.db.models import Count, Q, QuerySet

from incidents.models import Incident
from incidents.selectors import incident_visible_filter

from .models import Alert, Delivery, Feedback, Integration, RejectedDelivery, token_hash

STORM_WINDOW = datetime.timedelta(minutes=1)


def integration_for_token(*, kind: str, token: str) -> Integration | None:
    """Return the active integration of this kind whose token this is, compared in constant time."""
    integration = (
        Integration.objects.select_related("default_severity")
        .filter(kind=kind, token_hash=token_hash(token), is_active=True)
        .first()
    )
    if integration is None or not integration.token_matches(token):
        return None
    return integration


def integration_over_storm_limit(*, integration: Integration, now: datetime.datetime) -> bool:
    """Return whether the integration already accepted its limit of deliveries this minute."""
    limit = integration.storm_limit_per_minute
    if not limit:
        return False
    recent = Delivery.objects.filter(integration=integration, received_at__gt=now - STORM_WINDOW)
    return recent.count() >= limit


def integration_list(*, user) -> QuerySet[Integration]:
    return Integration.objects.select_related("default_severity").annotate(
        alert_total=Count("alerts", distinct=True),
        rejected_total=Count("rejected_deliveries", distinct=True),
    )


def rejected_delivery_list(*, integration: Integration) -> QuerySet[RejectedDelivery]:
    return integration.rejected_deliveries.order_by("-received_at", "-id")


def delivery_recent_list(*, integration: Integration) -> QuerySet[Delivery]:
    return integration.deliveries.defer("body", "headers").order_by("-received_at", "-id")


def alert_list(*, user) -> QuerySet[Alert]:
    """Return the alerts the user may see, ready for the inbox table (constant query count).

    Alerts of a security incident are shown only to those who may see the incident.
    """
    visible = Incident.objects.filter(incident_visible_filter(user)).values("pk")
    return Alert.objects.filter(Q(incident__isnull=True) | Q(incident__in=visible)).select_related(
        "integration", "severity", "rule", "incident"
    )


def incident_alert_list(*, incident: Incident) -> QuerySet[Alert]:
    return incident.alerts.select_related("integration", "severity").order_by("first_seen_at")


def rule_noisiest_list(*, alerts: QuerySet[Alert], limit: int = 10) -> list[dict]:
    """Return the rules of these alerts with the most noisy marks, then the most alerts.

    Alerts that matched no rule are counted under the rule None.
    """
    rows = (
        alerts.order_by()
        .values("rule__name")
        .annotate(
            total=Count("id"),
            noisy=Count("id", filter=Q(feedback=Feedback.NOISY)),
            useful=Count("id", filter=Q(feedback=Feedback.USEFUL)),
        )
        .order_by("-noisy", "-total", "rule__name")
    )
    return list(rows[:limit])
