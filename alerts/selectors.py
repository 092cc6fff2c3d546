"""Reads for the alert pages, the receiver and other apps."""

import datetime
import functools

from django.db import connection
from django.db.models import Count, Q, QuerySet

from incidents.models import Incident
from incidents.selectors import incident_visible_filter

from .models import Alert, Delivery, Feedback, Integration, RejectedDelivery, token_hash

STORM_WINDOW = datetime.timedelta(minutes=1)


# The fields the receiver reads, none of which needs a database converter. Any other field is
# loaded by a further query when used.
RECEIVER_FIELDS = {
    "id",
    "kind",
    "name",
    "token_hash",
    "client_secret",
    "max_body_bytes",
    "storm_limit_per_minute",
}


@functools.cache
def _receiver_lookup() -> tuple[str, list[str]]:
    # In the model's field order, which Model.from_db expects.
    fields = [field for field in Integration._meta.concrete_fields if field.name in RECEIVER_FIELDS]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(Integration._meta.db_table)
    # Only names from the model are formatted into the SQL, and the values are parameters.
    sql = f"SELECT {columns} FROM {table} WHERE kind = %s AND token_hash = %s AND is_active = %s"  # noqa: S608
    return sql, [field.attname for field in fields]


def integration_for_token(*, kind: str, token: str) -> Integration | None:
    """Return the active integration of this kind whose token this is, compared in constant time.

    Every webhook request runs this lookup, so it is one plain SELECT. Building it through the
    ORM took about 1.3 ms of CPU, the largest part of the request's (docs/benchmarks.md).
    """
    sql, attnames = _receiver_lookup()
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind, token_hash(token), True])
        row = cursor.fetchone()
    if row is None:
        return None
    integration = Integration.from_db(connection.alias, attnames, row)
    if not integration.token_matches(token):
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
