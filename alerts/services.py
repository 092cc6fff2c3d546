"""Writes of the alerts app: storing deliveries, turning them into alerts, and alerts into incidents.

A delivery is stored in its own transaction before anything is derived from it, so an accepted
request is never lost. `delivery_process` then runs once per delivery (a row lock claims it and
its status records that it ran), from a Celery task that works through a batch of deliveries.
"""

import datetime
import functools
import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from arka_portal.db import row_insert
from incidents.models import (
    ChecklistItem,
    Incident,
    Level,
    Phase,
    Service,
    Severity,
    SeverityMatrixCell,
    Source,
    TimelineEntry,
)
from incidents.services import (
    checklist_item_tick,
    incident_acknowledge,
    incident_declare,
    timeline_entry_add,
)

from .models import (
    Alert,
    AlertGroup,
    AlertRule,
    AlertStatus,
    Delivery,
    Feedback,
    Integration,
    MatchMode,
    RejectedDelivery,
    SnsSubscription,
)
from .senders import AlertEvent, PayloadError, parse

logger = logging.getLogger(__name__)

# The Detection checklist item that an alert ticks, found by the start of its text in the policy.
ALERT_RECEIVED_ITEM_PREFIX = "Alert received"
# After this many failed attempts a delivery is marked failed and no longer retried.
MAX_PROCESS_ATTEMPTS = 5
# Attempts of one processing run that lose a race to a concurrent delivery before it gives up.
RACE_RETRIES = 5
# PostgreSQL's SQLSTATE for a deadlock it broke by failing one of the transactions.
DEADLOCK_DETECTED = "40P01"
# Fields a repeat may change on a stored alert, besides its count and last-seen fields.
ALERT_CONTENT_FIELDS = ["title", "description", "labels", "annotations", "links"]
# Fields a resolve or an acknowledgement writes.
ALERT_STATE_FIELDS = [
    "status",
    "resolved_at",
    "ends_at",
    "last_seen_at",
    "last_delivery",
    "updated_at",
]
# Headers that carry credentials are never stored with a delivery.
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
BODY_EXCERPT_LENGTH = 2000
SNS_CONFIRM_TIMEOUT_SECONDS = 10
# A batch task processes at most this many deliveries, then queues another for the rest, so a
# long backlog of one integration does not keep one worker process forever.
BATCH_MAX_DELIVERIES = 500
# Pending delivery ids read per query by a batch task.
BATCH_PEEK = 100
# First key of the PostgreSQL advisory locks of alert batches. The second is the integration id.
BATCH_LOCK_CLASS = 7301
_LEVEL_ORDER = [Level.HIGH, Level.MEDIUM, Level.LOW]


def _require_permission(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to a group that has it."
        )


# Integrations ------------------------------------------------------------------------------------


def integration_create(
    *, actor, kind: str, name: str, default_severity: Severity, token: str = "", **fields
) -> tuple[Integration, str]:
    """Create an integration and return it with its token, which is stored only as a hash."""
    _require_permission(actor, "alerts.add_integration")
    token = token or secrets.token_urlsafe(32)
    integration = Integration(kind=kind, name=name, default_severity=default_severity, **fields)
    integration.token_set(token)
    integration.full_clean()
    integration.save()
    logger.info("Created alert integration %s kind=%s", integration.pk, kind)
    return integration, token


def integration_token_rotate(*, actor, integration: Integration) -> str:
    """Give the integration a new random token and return it; the old token stops working."""
    _require_permission(actor, "alerts.change_integration")
    token = secrets.token_urlsafe(32)
    integration.token_set(token)
    integration.save(update_fields=["token_hash", "token_hint", "updated_at"])
    logger.info("Rotated the token of alert integration %s", integration.pk)
    return token


# Receiving ---------------------------------------------------------------------------------------


def headers_without_credentials(headers: dict) -> dict:
    return {name: value for name, value in headers.items() if name not in CREDENTIAL_HEADERS}


def delivery_store(
    *,
    integration: Integration,
    content_type: str,
    headers: dict,
    body: bytes,
    remote_addr: str | None,
) -> Delivery:
    """Store an accepted request body and its headers, and queue its processing after commit.

    The request returns 202 once this commits; a Celery worker then turns the delivery into
    alerts. A delivery whose task is lost (broker down, worker killed) stays pending and is
    queued again by `delivery_sweep_task`. The delivery is one INSERT, so outside a caller's
    transaction it commits on its own, without a BEGIN and COMMIT round trip.
    """
    delivery = Delivery(
        integration=integration,
        received_at=timezone.now(),
        content_type=content_type[:100],
        headers=headers_without_credentials(headers),
        body=body.decode("utf-8"),
        remote_addr=remote_addr or None,
    )
    row_insert(delivery)
    transaction.on_commit(functools.partial(_batch_queue, integration.pk), robust=True)
    return delivery


# Integration id -> time.monotonic() when this process last queued a delayed batch task for it.
_batch_queued_at: dict[int, float] = {}


def _batch_queue(integration_id: int) -> None:
    """Queue a delayed batch task for the integration, unless this process queued one just now.

    A task queued with a delay of ALERTS_BATCH_DELAY_SECONDS starts no earlier than that. A
    request that skips within the first half of the delay has committed its delivery by then,
    so the task finds it. The other half allows for a difference between the clocks of this
    host and the worker's. A lost task leaves its deliveries to `delivery_sweep_task`.
    """
    from .tasks import delivery_batch_process_task

    delay = settings.ALERTS_BATCH_DELAY_SECONDS
    now = time.monotonic()
    queued_at = _batch_queued_at.get(integration_id)
    if queued_at is not None and now - queued_at < delay / 2:
        return
    delivery_batch_process_task.apply_async((integration_id,), countdown=delay)
    # Only a task that was queued lets later requests skip. An eager task has already run, so
    # it cannot find their deliveries.
    if not delivery_batch_process_task.app.conf.task_always_eager:
        _batch_queued_at[integration_id] = now


def rejected_delivery_record(
    *,
    kind: str,
    integration: Integration | None,
    status_code: int,
    reason: str,
    errors: dict | None = None,
    body: bytes = b"",
    remote_addr: str | None = None,
) -> RejectedDelivery:
    """Record why a request was rejected; its body is kept only as a short excerpt."""
    rejected = RejectedDelivery.objects.create(
        integration=integration,
        kind=kind,
        received_at=timezone.now(),
        status_code=status_code,
        reason=reason,
        errors=errors or {},
        body_excerpt=body[:BODY_EXCERPT_LENGTH].decode("utf-8", errors="replace"),
        remote_addr=remote_addr or None,
    )
    logger.info(
        "Rejected alert delivery kind=%s integration=%s status=%s: %s",
        kind,
        integration.pk if integration else None,
        status_code,
        reason,
    )
    return rejected


# Processing --------------------------------------------------------------------------------------

CREATED, REPEATED, RESOLVED, ACKNOWLEDGED, IGNORED = (
    "created",
    "repeated",
    "resolved",
    "acknowledged",
    "ignored",
)


class _Reference:
    """Alert rules and severities, read once per batch of deliveries and only when needed.

    They are read only when a delivery has a new occurrence to classify, so a batch of repeats
    costs no query for them. A rule changed during a batch applies from the next batch.
    """

    @functools.cached_property
    def rules(self) -> list[AlertRule]:
        return list(AlertRule.objects.select_related("severity").order_by("severity__level", "id"))

    @functools.cached_property
    def severities(self) -> dict[str, Severity]:
        return {severity.key: severity for severity in Severity.objects.all()}


@dataclass
class _Context:
    delivery: Delivery
    integration: Integration
    now: datetime.datetime
    reference: _Reference = field(default_factory=_Reference)
    notes: list[str] = field(default_factory=list)

    @property
    def rules(self) -> list[AlertRule]:
        return self.reference.rules

    @property
    def severities(self) -> dict[str, Severity]:
        return self.reference.severities

    def rule_for(self, event: AlertEvent) -> AlertRule | None:
        """Return the most severe rule that matches the event under the integration's mode."""
        for rule in self.rules:
            if self.integration.match_mode == MatchMode.LABELS:
                expected_labels = rule.match_labels or {}
                if expected_labels and all(
                    event.labels.get(name) == str(value) for name, value in expected_labels.items()
                ):
                    return rule
            elif event.name and event.name.lower() in {n.lower() for n in rule.match_names}:
                return rule
        return None

    def severity_for(self, event: AlertEvent, rule: AlertRule | None) -> Severity:
        if rule is not None:
            return rule.severity
        hint = event.severity_hint.strip()
        key = hint if hint in self.severities else self.integration.severity_map.get(hint.lower())
        return self.severities.get(key) or self.integration.default_severity


def delivery_process(*, delivery_id: int, reference: _Reference | None = None) -> list[int]:
    """Turn a stored delivery into alerts and incidents, once; returns the ids of its alerts.

    A delivery already processed, or being processed by someone else, is left alone. An attempt
    that lost a race with another delivery of the same new alert is rolled back and run again.
    Any other failure rolls back everything the attempt wrote, counts the attempt and re-raises.
    """
    attempt = 1
    while True:
        try:
            alert_ids, subscription_id = _delivery_process(delivery_id, reference or _Reference())
            break
        except (IntegrityError, OperationalError) as error:
            if attempt >= RACE_RETRIES or not _is_race(error):
                _delivery_failure_record(delivery_id, error)
                raise
            logger.info("Delivery %s lost a race (%s); trying again", delivery_id, error)
            attempt += 1
        except Exception as error:
            _delivery_failure_record(delivery_id, error)
            raise
    if subscription_id is not None:
        sns_subscription_confirm(subscription_id=subscription_id)
    return alert_ids


def _batch_lock_try(integration_id: int) -> bool:
    """Take the transaction's lock on the integration's batches, or return False if it is taken.

    A PostgreSQL advisory lock, unlike a row lock on the integration, is never held by an edit
    of the integration. SQLite runs one write transaction at a time, so it needs none.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)",
            [BATCH_LOCK_CLASS, integration_id % 2**31],
        )
        return cursor.fetchone()[0]


class _IntegrationBusy(Exception):
    """Another worker is processing a batch of deliveries of this integration."""


def delivery_batch_process(*, integration_id: int, limit: int = BATCH_MAX_DELIVERIES) -> int:
    """Process the integration's pending deliveries in id order; returns how many it tried.

    Each group of up to `BATCH_PEEK` pending deliveries is claimed and processed together in one
    transaction (`_deliveries_process`). While another worker is in a batch of the same
    integration, this task returns and leaves its deliveries to that worker. A
    transaction that loses a race with a concurrent delivery is tried once more. If it fails
    again, or fails for any other reason, it is rolled back and each delivery of the group is
    processed on its own by `delivery_process`, so one failing delivery stays pending without
    holding back the others. After `limit` deliveries another batch task is queued for the rest.
    """
    from .tasks import delivery_batch_process_task

    pending = Delivery.objects.filter(
        integration_id=integration_id, status=Delivery.Status.PENDING
    ).order_by("pk")
    done, after, tried, reference = 0, 0, set(), _Reference()
    while done < limit:
        peek = min(BATCH_PEEK, limit - done)
        ids = list(pending.filter(pk__gt=after).values_list("pk", flat=True)[:peek])
        if not ids:
            # A delivery committed after this task read past its id is still pending, and so is
            # one whose task found this task's batch running and left. So look again from the
            # lowest id.
            ids = list(pending.exclude(pk__in=tried).values_list("pk", flat=True)[:peek])
        if not ids:
            return done
        after = max(after, ids[-1])
        tried.update(ids)
        done += len(ids)
        try:
            subscription_ids = _deliveries_process_retrying_race(integration_id, ids, reference)
        except _IntegrationBusy:
            # The running batch reads all pending deliveries again before it ends, so it finds
            # the ones this task was queued for.
            logger.info(
                "Integration %s is in another batch; leaving its deliveries to it", integration_id
            )
            return done - len(ids)
        except Exception as error:
            logger.info("Batch of %s deliveries failed (%r); one by one", len(ids), error)
            _deliveries_process_one_by_one(ids, reference)
            continue
        for subscription_id in subscription_ids:
            sns_subscription_confirm(subscription_id=subscription_id)
    # The rest is already waiting, so the next task starts at once rather than after a delay.
    delivery_batch_process_task.delay(integration_id)
    return done


def _deliveries_process_retrying_race(
    integration_id: int, ids: list[int], reference: _Reference
) -> list[int]:
    """Process the deliveries together, once more after a lost insert race or a deadlock.

    The batch that lost a race to a concurrent one finds that batch's alerts on its second
    attempt, so it need not fall back to the slower one-by-one processing.
    """
    try:
        return _deliveries_process(integration_id, ids, reference)
    except Exception as error:
        if not _is_race(error):
            raise
        logger.info("Batch of %s deliveries lost a race (%r); trying again", len(ids), error)
    return _deliveries_process(integration_id, ids, reference)


def _deliveries_process_one_by_one(ids: list[int], reference: _Reference) -> None:
    for delivery_id in ids:
        try:
            delivery_process(delivery_id=delivery_id, reference=reference)
        except Exception:
            # Recorded on the delivery, which stays pending for the sweep until it fails.
            logger.exception("Delivery %s failed in a batch; going on", delivery_id)


def _is_race(error: Exception) -> bool:
    """Return whether the error is a lost insert race or a deadlock, both worth a retry."""
    if isinstance(error, IntegrityError):
        return True
    return getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED


@transaction.atomic
def _delivery_process(delivery_id: int, reference: _Reference) -> tuple[list[int], int | None]:
    delivery = (
        # Only the delivery row is locked: locking its integration too would make concurrent
        # deliveries of one integration skip each other.
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("integration__default_severity")
        .filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        logger.info("Delivery %s is processed or claimed already; skipped", delivery_id)
        return [], None
    integration = delivery.integration
    context = _Context(
        delivery=delivery,
        integration=integration,
        now=timezone.now(),
        reference=reference,
    )
    try:
        result = parse(integration.kind, delivery.body.encode("utf-8"), delivery.headers)
    except PayloadError as error:
        # The body passed the same parser before it was stored; only a parser change gets here.
        _delivery_finish(delivery, status=Delivery.Status.FAILED, alerts=[], notes=[str(error)])
        return [], None
    context.notes.extend(result.notes)

    # Rows are locked in a fixed order (alerts by identity, then groups by key, then incidents),
    # so two deliveries that share alerts or groups wait for each other instead of deadlocking.
    applied = []
    for wave in _event_waves(result.events):
        applied.extend(_alerts_apply(context, wave))
    groups = defaultdict(list)
    for alert, outcome in applied:
        # Only new occurrences join groups; their rule is in memory, so no query per alert.
        if outcome == CREATED and alert.rule is not None and alert.rule.declares_incident:
            groups[_group_key(integration, alert)].append(alert)
    for key in sorted(groups):
        _incident_link(context, key, groups[key])
    for alert, outcome in sorted(applied, key=lambda pair: pair[0].incident_id or 0):
        if outcome == RESOLVED:
            _alert_resolve_record(context, alert)
        elif outcome == ACKNOWLEDGED:
            _alert_acknowledge_record(alert)

    subscription_id = None
    if result.sns and result.sns["type"] == "SubscriptionConfirmation":
        subscription_id = _sns_subscription_request(context, result.sns).pk
    alerts = [alert for alert, _ in applied]
    _delivery_finish(delivery, status=Delivery.Status.PROCESSED, alerts=alerts, notes=context.notes)
    logger.info(
        "Processed delivery %s of integration %s: %s alerts",
        delivery.pk,
        integration.pk,
        len(alerts),
    )
    return sorted({alert.pk for alert in alerts}), subscription_id


@transaction.atomic
def _deliveries_process(integration_id: int, ids: list[int], reference: _Reference) -> list[int]:
    """Claim the pending deliveries among `ids` and process them together; returns SNS ids.

    The result is what `_delivery_process` gives for each delivery in id order, with fewer
    queries: the latest occurrence of every identity in the batch is locked with one query, and
    events are applied in memory in delivery order, so a delivery that fires then resolves an
    alert keeps that order. New occurrences are one insert, changed alerts one update per set of
    changed fields, and each group links its new alerts to its incident once. A concurrent
    insert of the same new alert makes the insert fail with an IntegrityError, and the caller
    tries again.
    """
    # Batches of one integration run one at a time, so two never insert the same new alerts. A
    # worker that finds another batch running leaves at once instead of holding a pool process.
    if not _batch_lock_try(integration_id):
        raise _IntegrationBusy(integration_id)
    integration = Integration.objects.select_related("default_severity").get(pk=integration_id)
    deliveries = list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(pk__in=ids, status=Delivery.Status.PENDING)
        .order_by("pk")
    )
    if not deliveries:
        return []
    for delivery in deliveries:
        delivery.integration = integration
    now = timezone.now()
    parsed, finished, subscription_ids = [], [], []
    for delivery in deliveries:
        context = _Context(delivery=delivery, integration=integration, now=now, reference=reference)
        try:
            result = parse(integration.kind, delivery.body.encode("utf-8"), delivery.headers)
        except PayloadError as error:
            _delivery_mark(delivery, status=Delivery.Status.FAILED, alerts=[], notes=[str(error)])
            finished.append(delivery)
            continue
        context.notes.extend(result.notes)
        parsed.append((context, result))

    identities = sorted({event.identity for _, result in parsed for event in result.events})
    latest = _latest_locked(integration, identities) if identities else {}
    created, changed, applied, touched_by = [], {}, [], []
    for context, result in parsed:
        touched = []
        touched_by.append(touched)
        for event in result.events:
            stored = latest.get(event.identity)
            before = [getattr(stored, name) for name in ALERT_CONTENT_FIELDS] if stored else []
            alert, outcome = _alert_apply(context, stored, event)
            if alert is None:
                continue
            touched.append(alert)
            applied.append((alert, outcome))
            if outcome == CREATED:
                created.append(alert)
                latest[event.identity] = alert
            elif alert.pk is not None and outcome != IGNORED:
                fields = changed.setdefault(alert.pk, (alert, set()))[1]
                if outcome == REPEATED:
                    fields.update(["repeat_count", "last_seen_at", "last_delivery", "updated_at"])
                    after = [getattr(alert, name) for name in ALERT_CONTENT_FIELDS]
                    fields.update(
                        name
                        for name, old, new in zip(ALERT_CONTENT_FIELDS, before, after, strict=True)
                        if old != new
                    )
                else:
                    fields.update(ALERT_STATE_FIELDS)

    if created:
        Alert.objects.bulk_create(created)
    by_fields = defaultdict(list)
    for alert, fields in changed.values():
        by_fields[tuple(sorted(fields))].append(alert)
    for fields, alerts in sorted(by_fields.items()):
        Alert.objects.fast_update(sorted(alerts, key=lambda alert: alert.pk), list(fields))

    batch_context = _Context(
        delivery=deliveries[0], integration=integration, now=now, reference=reference
    )
    groups = defaultdict(list)
    for alert, outcome in applied:
        if outcome == CREATED and alert.rule is not None and alert.rule.declares_incident:
            groups[_group_key(integration, alert)].append(alert)
    for key in sorted(groups):
        _incident_link(batch_context, key, groups[key])
    for alert, outcome in sorted(applied, key=lambda pair: pair[0].incident_id or 0):
        if outcome == RESOLVED:
            _alert_resolve_record(batch_context, alert)
        elif outcome == ACKNOWLEDGED:
            _alert_acknowledge_record(alert)

    for (context, result), touched in zip(parsed, touched_by, strict=True):
        if result.sns and result.sns["type"] == "SubscriptionConfirmation":
            subscription_ids.append(_sns_subscription_request(context, result.sns).pk)
        _delivery_mark(
            context.delivery, status=Delivery.Status.PROCESSED, alerts=touched, notes=context.notes
        )
        finished.append(context.delivery)
    Delivery.objects.fast_update(
        finished, ["status", "processed_at", "alert_count", "notes", "attempts"]
    )
    logger.info(
        "Processed %s deliveries of integration %s together: %s alerts",
        len(deliveries),
        integration.pk,
        len({alert.pk for alert, _ in applied}),
    )
    return subscription_ids


def _event_waves(events: list[AlertEvent]) -> list[list[AlertEvent]]:
    """Split events into waves of distinct identities, each sorted, keeping each identity's order.

    Nearly every delivery is one wave. A delivery that reports one alert twice (fired, then
    resolved) applies the second report after the first is written.
    """
    waves: list[list[AlertEvent]] = []
    seen: dict[str, int] = defaultdict(int)
    for event in events:
        index = seen[event.identity]
        seen[event.identity] += 1
        if index == len(waves):
            waves.append([])
        waves[index].append(event)
    return [sorted(wave, key=lambda item: item.identity) for wave in waves]


def _delivery_mark(delivery: Delivery, *, status: str, alerts: list, notes: list[str]) -> None:
    """Set the fields of a finished delivery in memory."""
    delivery.status = status
    delivery.processed_at = timezone.now()
    delivery.alert_count = len({alert.pk for alert in alerts})
    delivery.notes = notes
    delivery.attempts += 1


def _delivery_finish(delivery: Delivery, *, status: str, alerts: list, notes: list[str]) -> None:
    _delivery_mark(delivery, status=status, alerts=alerts, notes=notes)
    delivery.save(update_fields=["status", "processed_at", "alert_count", "notes", "attempts"])


def _delivery_failure_record(delivery_id: int, error: Exception) -> None:
    logger.warning("Processing delivery %s failed", delivery_id, exc_info=error)
    pending = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
    pending.update(attempts=F("attempts") + 1, error=f"{type(error).__name__}: {error}"[:2000])
    pending.filter(attempts__gte=MAX_PROCESS_ATTEMPTS).update(status=Delivery.Status.FAILED)


def _latest_locked(integration: Integration, identities: list[str]) -> dict[str, Alert]:
    """Lock and return the latest occurrence of each identity that has one, in identity order."""
    latest = (
        Alert.objects.filter(integration=integration, identity=OuterRef("identity"))
        .order_by("-occurrence")
        .values("occurrence")[:1]
    )
    rows = (
        Alert.objects.select_for_update(of=("self",))
        .filter(integration=integration, identity__in=identities, occurrence=Subquery(latest))
        .order_by("identity")
    )
    return {alert.identity: alert for alert in rows}


def _alerts_apply(context: _Context, events: list[AlertEvent]) -> list[tuple[Alert, str]]:
    """Apply events of distinct identities to their locked rows, in few statements.

    New occurrences are one insert and repeats one update; only a repeat that changes an alert's
    text or labels, a resolve or an acknowledgement writes its own row.
    """
    latest = _latest_locked(context.integration, [event.identity for event in events])
    applied, created, repeated, saves = [], [], [], []
    for event in events:
        stored = latest.get(event.identity)
        before = [getattr(stored, name) for name in ALERT_CONTENT_FIELDS] if stored else []
        alert, outcome = _alert_apply(context, stored, event)
        if alert is None:
            continue
        applied.append((alert, outcome))
        if outcome == CREATED:
            created.append(alert)
        elif outcome == REPEATED:
            repeated.append(alert.pk)
            after = [getattr(alert, name) for name in ALERT_CONTENT_FIELDS]
            changed = [
                name
                for name, old, new in zip(ALERT_CONTENT_FIELDS, before, after, strict=True)
                if old != new
            ]
            if changed:
                saves.append((alert, changed))
        elif outcome != IGNORED:
            saves.append((alert, ALERT_STATE_FIELDS))
    if created:
        # A concurrent delivery that inserted one of these first makes this fail; the whole
        # attempt is then run again and finds its row.
        Alert.objects.bulk_create(created)
    if repeated:
        Alert.objects.filter(pk__in=repeated).update(
            repeat_count=F("repeat_count") + 1,
            last_seen_at=Greatest(Value(context.now), F("first_seen_at")),
            last_delivery=context.delivery,
            updated_at=context.now,
        )
    for alert, fields in saves:
        alert.save(update_fields=fields)
    return applied


def _alert_apply(
    context: _Context, latest: Alert | None, event: AlertEvent
) -> tuple[Alert | None, str]:
    """Apply one event to the latest stored occurrence of its identity, in memory."""
    if latest is None:
        if event.status != AlertStatus.FIRING:
            context.notes.append(
                f"{event.status.capitalize()} for unknown alert {event.identity!r}: nothing to change."
            )
            return None, IGNORED
        return _occurrence_build(context, event, occurrence=1), CREATED

    if latest.status == AlertStatus.RESOLVED:
        if event.status != AlertStatus.FIRING:
            context.notes.append(f"Alert {latest.pk} is already resolved: nothing to change.")
            return latest, IGNORED
        if event.starts_at is not None and event.starts_at <= latest.starts_at:
            context.notes.append(
                f"Firing for alert {latest.pk} that started {event.starts_at.isoformat()} is "
                "older than its resolve: kept resolved."
            )
            return latest, IGNORED
        return _occurrence_build(context, event, occurrence=latest.occurrence + 1), CREATED

    if event.status == AlertStatus.FIRING:
        _alert_repeat(context, latest, event)
        return latest, REPEATED
    if event.status == AlertStatus.ACKNOWLEDGED:
        if latest.status == AlertStatus.ACKNOWLEDGED:
            return latest, IGNORED
        latest.status = AlertStatus.ACKNOWLEDGED
        _alert_seen(context, latest)
        return latest, ACKNOWLEDGED
    return _alert_resolve(context, latest, event)


def _occurrence_build(context: _Context, event: AlertEvent, *, occurrence: int) -> Alert:
    rule = context.rule_for(event)
    now = context.now
    return Alert(
        integration=context.integration,
        source=context.integration.kind,
        identity=event.identity,
        occurrence=occurrence,
        status=event.status,
        name=event.name[:255],
        title=event.title[:255],
        description=event.description,
        service=event.service[:100],
        severity=context.severity_for(event, rule),
        rule=rule,
        labels=event.labels,
        annotations=event.annotations,
        links=event.links,
        starts_at=event.starts_at or event.occurred_at or now,
        ends_at=event.ends_at,
        first_seen_at=now,
        last_seen_at=now,
        last_delivery=context.delivery,
        created_at=now,
        updated_at=now,
    )


def _alert_seen(context: _Context, alert: Alert) -> None:
    alert.last_seen_at = max(context.now, alert.first_seen_at)
    alert.last_delivery = context.delivery
    alert.updated_at = context.now


def _alert_repeat(context: _Context, alert: Alert, event: AlertEvent) -> None:
    alert.repeat_count += 1
    alert.title = event.title[:255] or alert.title
    alert.description = event.description or alert.description
    alert.labels = event.labels or alert.labels
    alert.annotations = event.annotations or alert.annotations
    alert.links = event.links or alert.links
    _alert_seen(context, alert)


def _alert_resolve(context: _Context, alert: Alert, event: AlertEvent):
    older_occurrence = event.starts_at is not None and event.starts_at < alert.starts_at
    if older_occurrence or (event.occurred_at is not None and event.occurred_at < alert.starts_at):
        context.notes.append(
            f"Resolve for alert {alert.pk} is older than its current firing: kept open."
        )
        return alert, IGNORED
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = context.now
    alert.ends_at = event.ends_at or event.occurred_at or context.now
    _alert_seen(context, alert)
    return alert, RESOLVED


def _group_key(integration: Integration, alert: Alert) -> str | None:
    """Return the key of the incident group: the rule plus the integration's grouping labels."""
    if alert.rule is None:
        return None
    parts = [alert.rule.name]
    for label in integration.grouping_labels():
        value = alert.labels.get(label) or (alert.service if label == "service" else "")
        parts.append(f"{label}={value}")
    return "|".join(parts)[:255]


def _incident_link(context: _Context, key: str, alerts: list[Alert]) -> None:
    """Open an incident for a group's new firing alerts, or join the group's open one.

    A delivery's alerts of one group are linked together, with one timeline entry, so a storm
    of alerts adds one entry per delivery rather than one per alert.
    """
    first = alerts[0]
    # The lookup locks the row; a group created by a concurrent delivery is found and locked.
    group, _ = (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get_or_create(key=key, defaults={"rule": first.rule})
    )
    incident = group.incident
    if incident is not None and incident.resolved_at is not None:
        incident = None
    joined = alerts
    if incident is None:
        incident = _incident_declare(context, first)
        group.incident = incident
        group.save(update_fields=["incident", "updated_at"])
        joined = alerts[1:]
    if joined:
        count = len(joined)
        timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.WEBHOOK,
            message=f"{count} alert{'' if count == 1 else 's'} joined from "
            f"{context.integration.name}: {joined[0].title}",
            details={
                "alerts": [alert.pk for alert in joined],
                "rule": first.rule.name,
                "group": key,
            },
        )
    Alert.objects.filter(pk__in=[alert.pk for alert in alerts]).update(
        group=group, incident=incident
    )
    for alert in alerts:
        alert.group, alert.incident = group, incident
    _alert_received_tick(context, first, incident)


def _matrix_cell_for(severity: Severity) -> tuple[str, str]:
    """Return the impact and urgency whose matrix cell suggests this severity, highest first."""
    cells = list(SeverityMatrixCell.objects.filter(severity=severity))
    if not cells:
        return Level.HIGH, Level.HIGH
    cell = min(cells, key=lambda c: (_LEVEL_ORDER.index(c.impact), _LEVEL_ORDER.index(c.urgency)))
    return cell.impact, cell.urgency


def _incident_declare(context: _Context, alert: Alert) -> Incident:
    rule = alert.rule
    severity = rule.severity
    impact, urgency = _matrix_cell_for(severity)
    services = []
    if alert.service:
        services = Service.objects.filter(Q(slug=alert.service) | Q(name__iexact=alert.service))
    description = (
        f"Opened by alert rule {rule.name} ({rule.condition}) from {context.integration.name}."
    )
    if alert.description:
        description += f"\n\n{alert.description}"
    incident = incident_declare(
        actor=None,
        title=alert.title[:200],
        description=description,
        impact=impact,
        urgency=urgency,
        severity=severity,
        severity_reason=f"Alert rule {rule.name} ({rule.condition}) sets {severity.key}.",
        services=services,
        detected_at=min(alert.starts_at, context.now),
        source=Source.WEBHOOK,
    )
    logger.info("Alert %s declared incident %s under rule %s", alert.pk, incident.pk, rule.name)
    return incident


def _alert_received_tick(context: _Context, alert: Alert, incident: Incident) -> None:
    item = ChecklistItem.objects.filter(
        incident=incident,
        phase=Phase.DETECT,
        text__istartswith=ALERT_RECEIVED_ITEM_PREFIX,
        ticked_at__isnull=True,
    ).first()
    if item is None:
        return
    checklist_item_tick(
        actor=None,
        item=item,
        evidence=f"Alert {alert.pk} from {context.integration.name}: {alert.title}"[:200],
        source=Source.WEBHOOK,
    )


def _alert_resolve_record(context: _Context, alert: Alert) -> None:
    """Write a resolve on the incident's timeline; the incident itself stays as it is."""
    if alert.incident_id is None:
        return
    timeline_entry_add(
        incident=alert.incident,
        kind=TimelineEntry.Kind.SYSTEM,
        source=Source.WEBHOOK,
        message=f"Alert resolved in {context.integration.name}: {alert.title}",
        details={"alert": alert.pk, "ends_at": alert.ends_at.isoformat()},
    )


def _alert_acknowledge_record(alert: Alert) -> None:
    """Acknowledge the alert's open incident, which stops its escalation."""
    if alert.incident_id is None:
        return
    incident = alert.incident
    if incident.is_open and incident.acknowledged_at is None:
        incident_acknowledge(actor=None, incident=incident, source=Source.WEBHOOK)


# SNS ---------------------------------------------------------------------------------------------


def _sns_subscription_request(context: _Context, sns: dict) -> SnsSubscription:
    subscription, _ = SnsSubscription.objects.update_or_create(
        integration=context.integration,
        topic_arn=sns["topic_arn"],
        defaults={
            "subscribe_url": sns["subscribe_url"],
            "requested_at": context.now,
            "confirmed_at": None,
            "last_error": "",
        },
    )
    return subscription


def sns_subscription_confirm(*, subscription_id: int) -> SnsSubscription:
    """Confirm an SNS subscription by fetching its SubscribeURL, if the address is allowed."""
    subscription = SnsSubscription.objects.get(pk=subscription_id)
    url = subscription.subscribe_url
    if not re.match(settings.ALERTS_SNS_SUBSCRIBE_URL_PATTERN, url):
        subscription.last_error = (
            "Not fetched: the SubscribeURL does not match ALERTS_SNS_SUBSCRIBE_URL_PATTERN "
            f"({settings.ALERTS_SNS_SUBSCRIBE_URL_PATTERN})."
        )
        subscription.save(update_fields=["last_error"])
        logger.warning("SNS subscription %s has a disallowed SubscribeURL", subscription.pk)
        return subscription
    try:
        response = requests.get(url, timeout=SNS_CONFIRM_TIMEOUT_SECONDS, allow_redirects=False)
        response.raise_for_status()
    except requests.RequestException as error:
        subscription.last_error = f"Confirmation failed: {error}"[:2000]
        subscription.save(update_fields=["last_error"])
        logger.warning("Confirming SNS subscription %s failed", subscription.pk, exc_info=True)
        return subscription
    subscription.confirmed_at = timezone.now()
    subscription.last_error = ""
    subscription.save(update_fields=["confirmed_at", "last_error"])
    logger.info("Confirmed SNS subscription %s", subscription.pk)
    return subscription


# Feedback ----------------------------------------------------------------------------------------


@transaction.atomic
def alert_feedback_mark(*, actor, alerts: Iterable[Alert], feedback: str) -> int:
    """Mark alerts useful or noisy (an empty value clears the mark); returns how many changed."""
    _require_permission(actor, "alerts.mark_alert")
    if feedback and feedback not in Feedback.values:
        raise ValidationError(
            {"feedback": f"Unknown mark {feedback!r}; use one of {', '.join(Feedback.values)}."}
        )
    ids = [alert.pk for alert in alerts]
    if not ids:
        raise ValidationError({"alerts": "Select at least one alert to mark."})
    return Alert.objects.filter(pk__in=ids).update(
        feedback=feedback,
        feedback_by=actor if feedback else None,
        feedback_at=timezone.now() if feedback else None,
    )
