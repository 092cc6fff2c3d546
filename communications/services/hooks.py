"""What the communications app does when an incident changes, called from incidents.effects.

Each runs inside the incident service's transaction; messages go to the outbox, which sends them
after commit, and tasks and cache clearing are deferred with `transaction.on_commit`.
"""

from django.db import transaction

from incidents.models import Incident, Phase, StatusUpdate

from .enterprise import enterprise_notices_open, enterprise_resolution_emails_send
from .internal import leadership_summary_schedule, milestone_summary_post, resolution_summary_post
from .subscribers import status_page_cache_clear


def incident_declared_handle(*, incident: Incident) -> None:
    leadership_summary_schedule(incident=incident)
    milestone_summary_post(
        incident=incident, milestone=f"Declared {incident.severity.key}: {incident.title}"
    )
    enterprise_notices_open(incident=incident)


def incident_severity_changed_handle(*, incident: Incident, previous_severity) -> None:
    leadership_summary_schedule(incident=incident)
    milestone_summary_post(
        incident=incident,
        milestone=f"Severity changed from {previous_severity.key} to {incident.severity.key}",
    )
    enterprise_notices_open(incident=incident)


def incident_phase_changed_handle(*, incident: Incident, previous_phase: str) -> None:
    milestone_summary_post(
        incident=incident,
        milestone=f"Phase changed from {Phase(previous_phase).label} to "
        f"{Phase(incident.phase).label}",
    )


def incident_resolved_handle(*, incident: Incident) -> None:
    leadership_summary_schedule(incident=incident)
    resolution_summary_post(incident=incident)
    enterprise_resolution_emails_send(incident=incident)
    transaction.on_commit(status_page_cache_clear)


def status_update_posted_handle(*, update: StatusUpdate) -> None:
    if not update.is_public:
        return
    from ..tasks import status_update_subscribers_notify_task

    transaction.on_commit(status_page_cache_clear)
    transaction.on_commit(lambda: status_update_subscribers_notify_task.delay(update.pk))
