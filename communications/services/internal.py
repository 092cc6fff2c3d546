"""Summaries for the internal channels: milestones, the leadership cadence and resolution."""

import logging

from django.db import transaction
from django.utils import timezone

from incidents.durations import format_duration
from incidents.models import Incident, Phase, Source, TimelineEntry
from incidents.services import timeline_entry_add
from notifications.models import Channel
from notifications.services import message_queue

from ..models import IncidentCommunication, InternalChannel
from ..selectors import internal_channel_list
from ._common import absolute_url, utc_text

logger = logging.getLogger(__name__)


def _latest_update_text(incident: Incident) -> str:
    latest = incident.status_updates.order_by("-posted_at", "-pk").first()
    if latest is None:
        return "none posted yet"
    visibility = "public" if latest.is_public else "internal"
    first_line = latest.body.strip().splitlines()[0] if latest.body.strip() else ""
    return f"{latest.get_status_display()} ({visibility}) at {utc_text(latest.posted_at)}: {first_line}"


def _next_step_text(incident: Incident) -> str:
    if not incident.is_open:
        return "post-incident review"
    next_phase = Phase(incident.phase).next_phase()
    steps = [f"in {Phase(incident.phase).label}"]
    if next_phase is not None:
        steps.append(f"next phase {next_phase.label}")
    if incident.next_update_due_at is not None:
        steps.append(f"next public update due {utc_text(incident.next_update_due_at)}")
    return ", ".join(steps)


def incident_summary_text(incident: Incident, *, now) -> str:
    """Return the summary leadership and the announcements channel read."""
    services = ", ".join(service.name for service in incident.services.all()) or "none recorded"
    customers = incident.customers.count()
    lines = [
        f"{incident.reference} {incident.severity.key} ({incident.severity.name}): {incident.title}",
        f"Impact: {incident.get_impact_display()}; services: {services}; "
        f"customers named: {customers}",
        f"Duration: {format_duration(incident.duration(now))}",
        f"Last update: {_latest_update_text(incident)}",
        f"Next step: {_next_step_text(incident)}",
        f"Incident: {absolute_url('incidents:detail', incident.pk)}",
    ]
    return "\n".join(lines)


def _post(channel: InternalChannel, *, incident, subject, body, dedup_key) -> None:
    message_queue(
        channel=Channel.SLACK,
        target=channel.channel,
        subject=subject,
        body=body,
        dedup_key=dedup_key,
        incident=incident,
    )


def milestone_summary_post(*, incident: Incident, milestone: str) -> int:
    """Post a milestone to each milestone channel that covers the severity; returns how many."""
    now = timezone.now()
    posted = 0
    for channel in internal_channel_list(sends=InternalChannel.Sends.MILESTONES):
        if not channel.covers(incident.severity):
            continue
        _post(
            channel,
            incident=incident,
            subject=f"{incident.reference} {milestone}",
            body=f"{milestone}\n{incident_summary_text(incident, now=now)}",
            dedup_key=f"milestone:{channel.key}:{incident.pk}:{now.isoformat()}:{milestone[:60]}",
        )
        posted += 1
    return posted


def resolution_summary_post(*, incident: Incident) -> int:
    now = timezone.now()
    posted = 0
    for channel in internal_channel_list(sends=InternalChannel.Sends.RESOLUTION):
        if not channel.covers(incident.severity):
            continue
        _post(
            channel,
            incident=incident,
            subject=f"{incident.reference} resolved after "
            f"{format_duration(incident.duration(now))}",
            body=incident_summary_text(incident, now=now),
            dedup_key=f"resolution-summary:{channel.key}:{incident.pk}",
        )
        posted += 1
    return posted


def _leadership_interval(incident: Incident):
    """Return the shortest summary interval of the channels covering the incident, or None."""
    intervals = [
        channel.every
        for channel in internal_channel_list(sends=InternalChannel.Sends.SUMMARY)
        if channel.every is not None and channel.covers(incident.severity)
    ]
    return min(intervals) if intervals else None


def leadership_summary_schedule(*, incident: Incident) -> IncidentCommunication:
    """Start, keep or stop the leadership summary clock after a declaration or severity change.

    A running clock keeps its due time, so a severity change never delays a summary.
    """
    state, _ = IncidentCommunication.objects.select_for_update().get_or_create(incident=incident)
    interval = _leadership_interval(incident) if incident.is_open else None
    if interval is None:
        due_at = None
    elif state.leadership_summary_due_at is not None:
        due_at = state.leadership_summary_due_at
    else:
        due_at = timezone.now() + interval
    if due_at != state.leadership_summary_due_at:
        state.leadership_summary_due_at = due_at
        state.save(update_fields=["leadership_summary_due_at", "updated_at"])
    return state


@transaction.atomic
def leadership_summary_send(*, incident_id: int) -> int:
    """Post the due leadership summary once and move the clock on; returns how many posted.

    The row lock with skip_locked lets one of several overlapping sweeps post it.
    """
    state = (
        IncidentCommunication.objects.select_for_update(skip_locked=True)
        .filter(incident_id=incident_id)
        .first()
    )
    now = timezone.now()
    if state is None or state.leadership_summary_due_at is None:
        return 0
    if state.leadership_summary_due_at > now:
        logger.info("Leadership summary of incident %s is not due yet", incident_id)
        return 0
    incident = Incident.objects.select_related("severity").get(pk=incident_id)
    due_at = state.leadership_summary_due_at
    posted = 0
    channels = [
        channel
        for channel in internal_channel_list(sends=InternalChannel.Sends.SUMMARY)
        if incident.is_open and channel.every is not None and channel.covers(incident.severity)
    ]
    for channel in channels:
        _post(
            channel,
            incident=incident,
            subject=f"{incident.reference} {incident.severity.key} leadership summary",
            body=incident_summary_text(incident, now=now),
            dedup_key=f"leadership-summary:{channel.key}:{incident.pk}:{due_at.isoformat()}",
        )
        posted += 1
    interval = min((channel.every for channel in channels), default=None)
    next_due_at = None
    if interval is not None:
        next_due_at = due_at + interval
        if next_due_at <= now:
            # After a pause (a stopped beat), count from now rather than send a burst.
            next_due_at = now + interval
    state.leadership_summary_due_at = next_due_at
    state.save(update_fields=["leadership_summary_due_at", "updated_at"])
    if posted:
        timeline_entry_add(
            incident=incident,
            kind=TimelineEntry.Kind.SYSTEM,
            source=Source.SYSTEM,
            message=f"Leadership summary posted to {', '.join(c.channel for c in channels)}",
            details={"channels": [channel.channel for channel in channels]},
        )
    return posted
