"""Paging: page an incident's escalation steps on time until someone acknowledges it.

An escalation copies its severity's policy when it starts, so later edits to the policy do not
change pages already in flight. The next step's due time is stored on the Escalation row and the
beat sweep pages what is due. Two guards make each step page once even when two sweeps run at the
same moment: the sweep claims due rows with SELECT ... FOR UPDATE SKIP LOCKED, and each step's
EscalationPage row, unique per (escalation, run, step, round), is inserted before its messages.
The sweep locks the incident row together with the escalation row, in the same order as the
incident services, so an acknowledgement waits for a sweep instead of deadlocking with it.
"""

import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.durations import format_duration
from incidents.models import Incident, Severity, Source, TimelineEntry
from notifications.models import Channel, ContactMethod, Message
from notifications.services import AddressBook, OutboundMessage, message_queue, message_queue_bulk

from .links import acknowledge_token_read, acknowledge_url_make
from .models import (
    AlertRoute,
    Escalation,
    EscalationContact,
    EscalationPage,
    EscalationPolicy,
    EscalationTrigger,
    StopReason,
)

logger = logging.getLogger(__name__)

# Due escalations one sweep claims; the rest wait for the next sweep 30 seconds later.
SWEEP_BATCH_SIZE = 500
# Channels that reach a destination of their own (a Slack webhook's channel, a PagerDuty
# service), so they are still sent when nobody is on call for a step.
CHANNELS_WITHOUT_PERSON = (Channel.SLACK, Channel.PAGERDUTY)


@dataclass
class SweepResult:
    pages: int = 0
    missed_deadlines: int = 0


def _require_permission(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to a group that has it."
        )


def _username(user) -> str:
    return user.get_username() if user is not None else "nobody"


# The policy snapshot.


def _policy_snapshot(severity: Severity) -> dict:
    """Copy the severity's escalation policy and alert routes into plain JSON."""
    routes = [
        {"channel": route.channel, "target": route.target}
        for route in AlertRoute.objects.filter(severity=severity).order_by("position")
    ]
    snapshot = {
        "severity": severity.key,
        "steps": [],
        "routes": routes,
        "repeat_from": None,
        "repeat_times": 0,
        "repeat_after_seconds": 0,
    }
    policy = EscalationPolicy.objects.filter(severity=severity).first()
    if policy is None:
        return snapshot
    steps = list(policy.steps.select_related("target_contact").order_by("position"))
    snapshot["steps"] = [
        {
            "position": step.position,
            "delay_seconds": int(step.delay.total_seconds()),
            "layer": step.target_layer,
            "contact": step.target_contact.key if step.target_contact_id else "",
            "contact_channels": list(step.target_contact.contact_methods)
            if step.target_contact_id
            else [],
            "label": step.target_label,
        }
        for step in steps
    ]
    positions = [step.position for step in steps]
    if policy.repeat_times and policy.repeat_from_position in positions:
        snapshot["repeat_from"] = positions.index(policy.repeat_from_position)
        snapshot["repeat_times"] = policy.repeat_times
        snapshot["repeat_after_seconds"] = int(policy.repeat_after.total_seconds())
    return snapshot


def step_due_at(escalation: Escalation, step: int, round_: int) -> datetime.datetime:
    """Return when a step of a round falls due, counted from the start of the run.

    A repeated round starts `repeat_after` after the last step and keeps the steps' spacing.
    """
    snapshot = escalation.policy_snapshot
    steps = snapshot["steps"]
    offset = steps[step]["delay_seconds"]
    if round_:
        first = steps[snapshot["repeat_from"]]["delay_seconds"]
        cycle = steps[-1]["delay_seconds"] - first + snapshot["repeat_after_seconds"]
        offset += round_ * cycle
    return escalation.run_started_at + datetime.timedelta(seconds=offset)


def _next_position(escalation: Escalation) -> tuple[int, int] | None:
    snapshot = escalation.policy_snapshot
    step, round_ = escalation.next_step, escalation.next_round
    if step + 1 < len(snapshot["steps"]):
        return step + 1, round_
    if snapshot["repeat_from"] is not None and round_ < snapshot["repeat_times"]:
        return snapshot["repeat_from"], round_ + 1
    return None


def _pointer_advance(escalation: Escalation, *, now: datetime.datetime, scheduled: bool) -> None:
    """Point the escalation at the step after the one just paged; stop after the last one."""
    position = _next_position(escalation)
    if position is None:
        escalation.next_step = len(escalation.steps)
        escalation.next_due_at = None
        if escalation.stopped_at is None:
            escalation.stopped_at = now
            escalation.stop_reason = StopReason.COMPLETED
        return
    escalation.next_step, escalation.next_round = position
    if scheduled:
        escalation.next_due_at = step_due_at(escalation, *position)


# Paging one step.


@dataclass
class PagingLookups:
    """Lookups that paging a step needs besides its escalation, shared by all steps of a sweep.

    Escalation contacts are read on first use, the person on call once per (layer, instant,
    severity), and each recipient's contact methods once. One instance lives for one sweep or
    one service call, so edits made meanwhile are seen by the next one.
    """

    address_book: AddressBook = field(default_factory=AddressBook)
    _contacts: dict[str, EscalationContact] | None = None
    _on_call: dict[tuple[str, datetime.datetime, str], object] = field(default_factory=dict)

    def contact(self, key: str) -> EscalationContact | None:
        if self._contacts is None:
            contacts = EscalationContact.objects.select_related("holder")
            self._contacts = {contact.key: contact for contact in contacts}
        return self._contacts.get(key)

    def layer_on_call(self, *, layer: str, at: datetime.datetime, severity_key: str):
        key = (layer, at, severity_key)
        if key not in self._on_call:
            # Looked up through the module so the rotation schedule (and tests) can replace it.
            from oncall import selectors as oncall_selectors

            self._on_call[key] = oncall_selectors.layer_on_call_get(
                layer=layer, at=at, severity=severity_key
            )
        return self._on_call[key]


def _recipient_resolve(
    step: dict, *, severity_key: str, at: datetime.datetime, lookups: PagingLookups
):
    if step["layer"]:
        user = lookups.layer_on_call(layer=step["layer"], at=at, severity_key=severity_key)
    else:
        contact = lookups.contact(step["contact"])
        user = contact.holder if contact is not None and contact.allows(severity_key) else None
    if user is not None and not user.is_active:
        return None
    return user


def _incident_url(incident: Incident) -> str:
    return f"{settings.PORTAL_BASE_URL}{incident.get_absolute_url()}"


def _page_texts(*, incident: Incident, step: dict, position: str, user) -> tuple[str, str]:
    severity = incident.severity
    subject = f"[{severity.key}] {incident.reference} {incident.title}"
    lines = [
        f"{incident.reference} {severity.key} ({severity.name}): {incident.title}",
        f"Paged: {step['label']}, {position}.",
        f"Incident: {_incident_url(incident)}",
    ]
    if user is not None:
        lines.insert(2, f"Acknowledge: {acknowledge_url_make(incident=incident, user=user)}")
    return subject, "\n".join(lines)


def _channels_for(step: dict, routes: list[dict]) -> list[dict]:
    """Return the routes a step pages on.

    An escalation role is paged on its own contact methods, a rotation layer on the severity's
    alert routes. Posts to a named Slack channel go out for every step.
    """
    broadcasts = [route for route in routes if route["target"]]
    if step["contact"]:
        personal = [{"channel": channel, "target": ""} for channel in step["contact_channels"]]
    else:
        personal = [route for route in routes if not route["target"]]
    return personal + broadcasts


def _step_page(
    escalation: Escalation,
    *,
    now: datetime.datetime,
    due_at: datetime.datetime,
    actor=None,
    trigger: EscalationTrigger | None = None,
    note: str = "",
    lookups: PagingLookups | None = None,
) -> EscalationPage | None:
    """Page the escalation's next step once. Returns None when that step was already paged."""
    lookups = lookups or PagingLookups()
    incident = escalation.incident
    index, round_ = escalation.next_step, escalation.next_round
    step = escalation.steps[index]
    user = _recipient_resolve(step, severity_key=escalation.severity_key, at=now, lookups=lookups)
    position = f"step {index + 1} of {len(escalation.steps)}"
    if round_:
        position += f", repeat {round_}"
    subject, body = _page_texts(incident=incident, step=step, position=position, user=user)
    # A post to a shared channel must not carry a link that acknowledges as the paged person.
    _, shared_body = _page_texts(incident=incident, step=step, position=position, user=None)
    requests = []
    queued = []
    for route in _channels_for(step, escalation.policy_snapshot["routes"]):
        channel, target = route["channel"], route["target"]
        if user is None and not target and channel not in CHANNELS_WITHOUT_PERSON:
            continue
        key = f"paging:{incident.pk}:{escalation.run}:{index}:{round_}:{channel}"
        if target:
            key += f":{target}"
        requests.append(
            OutboundMessage(
                channel=channel,
                subject=subject,
                body=shared_body if target else body,
                dedup_key=key,
                recipient=user if not target else None,
                target=target,
                incident=incident,
                payload={"pagerduty_dedup_key": f"arka-incident-{incident.pk}"},
            )
        )
        queued.append(f"{Channel(channel).label} {target}".strip())

    # The page row goes in before any message, so its unique constraint decides which of two
    # concurrent callers pages the step. The loser's messages are never stored.
    try:
        with transaction.atomic():
            page = EscalationPage.objects.create(
                escalation=escalation,
                run=escalation.run,
                step=index,
                round=round_,
                target_label=step["label"],
                recipient=user,
                channels=queued,
                due_at=due_at,
                paged_at=now,
                trigger=trigger,
                escalated_by=actor,
                note=note,
            )
    except IntegrityError:
        logger.info(
            "Escalation %s step %s round %s was already paged; not paging again",
            escalation.pk,
            index,
            round_,
        )
        return None
    stored = message_queue_bulk(requests=requests, address_book=lookups.address_book)
    # Say which channels were skipped (not configured, no address), so the timeline never
    # claims a delivery that the Notifications list shows as skipped.
    skipped = [
        label
        for label, message in zip(queued, stored, strict=True)
        if message.status == Message.Status.SKIPPED
    ]

    who = f"{_username(user)} as {step['label']}" if user else f"{step['label']}: nobody set"
    via = ", ".join(queued) if queued else "no channel"
    if skipped:
        via += f" (skipped: {', '.join(skipped)})"
    if actor is None:
        message = f"Paged {who} ({position}) via {via}"
        kind, source = TimelineEntry.Kind.SYSTEM, Source.SYSTEM
    else:
        message = f"Escalated to {who} ({position}) via {via}. Reason: {trigger.text}"
        if note:
            message += f". {note}"
        kind, source = TimelineEntry.Kind.NOTE, Source.WEB
    incident_services.timeline_entry_add(
        incident=incident,
        kind=kind,
        actor=actor,
        source=source,
        message=message,
        details={
            "escalation_page": page.pk,
            "step": index + 1,
            "round": round_,
            "recipient": _username(user),
            "channels": queued,
            "trigger": trigger.key if trigger else None,
        },
    )
    logger.info(
        "Paged escalation %s step %s round %s to user %s on %s",
        escalation.pk,
        index,
        round_,
        user.pk if user else None,
        queued,
    )
    return page


def _broadcast_notice(escalation: Escalation) -> list[str]:
    """Post a severity without escalation steps to its shared channels, once."""
    incident = escalation.incident
    severity = incident.severity
    subject = f"[{severity.key}] {incident.reference} {incident.title}"
    body = (
        f"{incident.reference} {severity.key} ({severity.name}) declared: {incident.title}\n"
        f"Incident: {_incident_url(incident)}"
    )
    posted = []
    for route in escalation.policy_snapshot["routes"]:
        if not route["target"]:
            continue
        message_queue(
            channel=route["channel"],
            subject=subject,
            body=body,
            dedup_key=f"paging:{incident.pk}:{escalation.run}:notice:{route['channel']}:"
            f"{route['target']}",
            target=route["target"],
            incident=incident,
        )
        posted.append(f"{Channel(route['channel']).label} {route['target']}")
    return posted


def _escalation_advance(
    escalation: Escalation, *, now: datetime.datetime, lookups: PagingLookups | None = None
) -> int:
    """Page every step that is due by now, oldest first; returns how many were paged."""
    lookups = lookups or PagingLookups()
    paged = 0
    while escalation.next_due_at is not None and escalation.next_due_at <= now:
        page = _step_page(escalation, now=now, due_at=escalation.next_due_at, lookups=lookups)
        if page is not None:
            paged += 1
        _pointer_advance(escalation, now=now, scheduled=True)
    escalation.save()
    return paged


# Starting, switching and stopping.


def _escalation_reset(escalation: Escalation, *, incident: Incident, now: datetime.datetime):
    escalation.severity_key = incident.severity.key
    escalation.policy_snapshot = _policy_snapshot(incident.severity)
    escalation.run_started_at = now
    escalation.next_step = 0
    escalation.next_round = 0
    escalation.response_due_at = incident.detected_at + incident.severity.response_time
    escalation.stopped_at = None
    escalation.stop_reason = ""
    if escalation.steps:
        escalation.next_due_at = step_due_at(escalation, 0, 0)
    else:
        escalation.next_due_at = None
        escalation.stopped_at = now
        escalation.stop_reason = StopReason.NO_POLICY


def escalation_start(*, incident: Incident) -> Escalation:
    """Start the incident's escalation with a copy of its severity's policy; page what is due."""
    now = timezone.now()
    escalation = Escalation(incident=incident)
    _escalation_reset(escalation, incident=incident, now=now)
    escalation.save()
    if not escalation.steps:
        posted = _broadcast_notice(escalation)
        where = f"; posted to {', '.join(posted)}" if posted else ""
        incident_services.timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"{incident.severity.key} has no escalation policy: nobody is paged{where}",
        )
        return escalation
    _escalation_advance(escalation, now=now)
    return escalation


def _locked_escalation(incident: Incident) -> Escalation | None:
    return (
        Escalation.objects.select_for_update()
        .select_related("incident", "incident__severity")
        .filter(incident=incident)
        .first()
    )


def escalation_policy_switch(*, incident: Incident, previous_severity: Severity) -> None:
    """Move an unacknowledged escalation to the new severity's policy, from its first step now."""
    escalation = _locked_escalation(incident)
    if escalation is None:
        escalation_start(incident=incident)
        return
    incident = escalation.incident
    new_key = incident.severity.key
    if incident.acknowledged_at is not None or incident.resolved_at is not None:
        state = "acknowledged" if incident.acknowledged_at else "resolved"
        incident_services.timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"Escalation not restarted for {new_key}: {incident.reference} is "
            f"already {state}",
        )
        return
    now = timezone.now()
    escalation.run += 1
    _escalation_reset(escalation, incident=incident, now=now)
    escalation.save()
    if escalation.steps:
        first = escalation.steps[0]
        message = (
            f"Escalation switched from the {previous_severity.key} policy to the {new_key} "
            f"policy: starting again at step 1 of {len(escalation.steps)} ({first['label']}) "
            f"after {format_duration(datetime.timedelta(seconds=first['delay_seconds']))}"
        )
    else:
        message = f"Escalation stopped: {new_key} has no escalation policy, nobody more is paged"
    incident_services.timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SYSTEM,
        source=Source.SYSTEM,
        message=message,
        details={"from": previous_severity.key, "to": new_key, "run": escalation.run},
    )
    logger.info(
        "Escalation %s switched to %s policy, run %s", escalation.pk, new_key, escalation.run
    )
    _escalation_advance(escalation, now=now)


def escalation_acknowledged(*, incident: Incident, actor) -> None:
    """Stop the escalation of an acknowledged incident and record who acknowledged it."""
    escalation = _locked_escalation(incident)
    if escalation is None:
        return
    now = timezone.now()
    escalation.acknowledged_at = incident.acknowledged_at or now
    escalation.acknowledged_by = actor
    if (
        escalation.response_missed_at is None
        and escalation.acknowledged_at > escalation.response_due_at
    ):
        escalation.response_missed_at = escalation.response_due_at
    was_running = escalation.is_running
    if was_running:
        escalation.stopped_at = now
        escalation.stop_reason = StopReason.ACKNOWLEDGED
        escalation.next_due_at = None
    escalation.save()
    if was_running:
        incident_services.timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"Escalation stopped: acknowledged by {_username(actor)}, "
            "no further steps are paged",
        )
    logger.info("Escalation %s stopped by acknowledgement", escalation.pk)


def escalation_resolved(*, incident: Incident) -> None:
    """Stop paging for a resolved incident."""
    escalation = _locked_escalation(incident)
    if escalation is None or not escalation.is_running:
        return
    escalation.stopped_at = timezone.now()
    escalation.stop_reason = StopReason.RESOLVED
    escalation.next_due_at = None
    escalation.save()
    incident_services.timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.SYSTEM,
        source=Source.SYSTEM,
        message="Escalation stopped: the incident is resolved",
    )


# The sweep.


def _response_misses_record(*, now: datetime.datetime, limit: int) -> int:
    with transaction.atomic():
        missed = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self", "incident"))
            .select_related("incident", "incident__severity")
            .filter(
                acknowledged_at__isnull=True,
                response_missed_at__isnull=True,
                response_due_at__lte=now,
                incident__resolved_at__isnull=True,
                incident__acknowledged_at__isnull=True,
            )
            .order_by("response_due_at")[:limit]
        )
        for escalation in missed:
            escalation.response_missed_at = escalation.response_due_at
            escalation.save(update_fields=["response_missed_at", "updated_at"])
            incident = escalation.incident
            incident_services.timeline_entry_add(
                incident=incident,
                kind=TimelineEntry.Kind.SYSTEM,
                source=Source.SYSTEM,
                message=f"Response deadline missed: not acknowledged within "
                f"{format_duration(incident.severity.response_time)} of detection",
                details={"response_due_at": escalation.response_due_at.isoformat()},
            )
            logger.info("Incident %s missed its response deadline", incident.pk)
    return len(missed)


def escalation_sweep(*, now: datetime.datetime | None = None) -> SweepResult:
    """Page every escalation step that is due and record missed response deadlines.

    Rows that another sweep has locked are skipped, and a step whose page row exists is not paged again,
    so running two sweeps at once pages each step once. After downtime, one sweep pages every
    step that fell due meanwhile.
    """
    now = now or timezone.now()
    result = SweepResult(missed_deadlines=_response_misses_record(now=now, limit=SWEEP_BATCH_SIZE))
    lookups = PagingLookups()
    with transaction.atomic():
        due = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self", "incident"))
            .select_related("incident", "incident__severity")
            .filter(stopped_at__isnull=True, next_due_at__lte=now)
            .order_by("next_due_at")[:SWEEP_BATCH_SIZE]
        )
        for escalation in due:
            try:
                with transaction.atomic():
                    result.pages += _escalation_advance(escalation, now=now, lookups=lookups)
            except Exception:
                # One broken escalation must not hold up the pages of the others. The row is
                # still due, so the next sweep tries it again.
                logger.exception("Escalation %s failed to page; retrying next sweep", escalation.pk)
    if due:
        logger.info("Escalation sweep paged %s steps of %s due escalations", result.pages, len(due))
    return result


# Manual escalation and acknowledgement from outside the portal.


@transaction.atomic
def escalation_escalate(
    *, actor, incident: Incident, trigger: EscalationTrigger, note: str = ""
) -> EscalationPage:
    """Page the next level now, by hand, giving one of the policy's triggers as the reason."""
    _require_permission(actor, "paging.escalate_incident")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    escalation = _locked_escalation(incident)
    if escalation is None or not escalation.steps:
        raise ValidationError(
            {"trigger": f"{incident.reference} has no escalation policy to escalate through."}
        )
    if incident.resolved_at is not None:
        raise ValidationError({"trigger": f"{incident.reference} is resolved."})
    if escalation.next_step >= len(escalation.steps):
        raise ValidationError(
            {"trigger": "Every level of the escalation policy has been paged already."}
        )
    now = timezone.now()
    page = _step_page(escalation, now=now, due_at=now, actor=actor, trigger=trigger, note=note)
    if page is None:
        raise ValidationError({"trigger": "That level was paged just now; reload the page."})
    _pointer_advance(escalation, now=now, scheduled=escalation.is_running)
    escalation.save()
    return page


def incident_acknowledge_by_link(*, token: str, source: str = Source.EMAIL_LINK) -> Incident:
    """Acknowledge the incident a signed link names, as the person it was sent to."""
    incident, user = acknowledge_token_read(token)
    return incident_services.incident_acknowledge(actor=user, incident=incident, source=source)


@transaction.atomic
def incident_acknowledge_from_pagerduty(
    *, incident_key: str, agent_id: str, agent_summary: str
) -> Incident:
    """Record a PagerDuty acknowledgement, as the portal user whose PagerDuty ID matches.

    Raises Incident.DoesNotExist for a key the portal did not send.
    """
    prefix = "arka-incident-"
    if not incident_key.startswith(prefix) or not incident_key[len(prefix) :].isdigit():
        raise Incident.DoesNotExist(f"unknown incident key {incident_key!r}")
    incident = Incident.objects.get(pk=int(incident_key[len(prefix) :]))
    method = (
        ContactMethod.objects.select_related("user")
        .filter(channel=Channel.PAGERDUTY, address=agent_id, user__is_active=True)
        .first()
        if agent_id
        else None
    )
    user = method.user if method is not None else None
    if user is not None and not user.has_perm("incidents.work_incident"):
        user = None
    already = incident.acknowledged_at is not None
    incident = incident_services.incident_acknowledge(
        actor=user, incident=incident, source=Source.WEBHOOK
    )
    if user is None and not already:
        incident_services.timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.WEBHOOK,
            message=f"PagerDuty reports the acknowledgement by {agent_summary or 'an unknown user'}"
            f"{f' (PagerDuty user {agent_id})' if agent_id else ''}, who has no portal account "
            "with that PagerDuty ID",
        )
    return incident
