"""Other apps' reactions to incident changes, called explicitly by the incident services.

Each function runs inside the service's transaction, after the change and its timeline entry are
written. Work that talks to the outside world must be deferred with `transaction.on_commit` (or
written to a table that a task sends from), so a rolled-back change sends nothing. Apps add their
calls here instead of listening to signals, so the path of every effect can be read in one place.
The imports are local because each of these apps imports the incident services in turn.
"""

from .models import Incident, RoleAssignment, StatusUpdate


def incident_declared(*, incident: Incident, actor) -> None:
    """Run after an incident is declared (from the web, an alert, Slack or the admin)."""
    from chatops.services import incident_channel_open
    from communications.services import incident_declared_handle
    from paging.services import escalation_start

    escalation_start(incident=incident)
    incident_declared_handle(incident=incident)
    incident_channel_open(incident=incident)


def incident_severity_changed(*, incident: Incident, previous_severity, actor) -> None:
    """Run after an incident's severity changes."""
    from chatops.services import incident_channel_severity_announce
    from communications.services import incident_severity_changed_handle
    from paging.services import escalation_policy_switch
    from security.services import security_minimum_severity_check

    # Raises ValidationError, rolling the change back, below the security class's minimum.
    security_minimum_severity_check(incident=incident)
    escalation_policy_switch(incident=incident, previous_severity=previous_severity)
    incident_severity_changed_handle(incident=incident, previous_severity=previous_severity)
    incident_channel_severity_announce(incident=incident, previous_severity=previous_severity)


def incident_acknowledged(*, incident: Incident, actor) -> None:
    """Run after the first acknowledgement of an incident."""
    from paging.services import escalation_acknowledged

    escalation_acknowledged(incident=incident, actor=actor)


def incident_phase_changed(*, incident: Incident, previous_phase: str, actor) -> None:
    """Run after an incident moves to another phase."""
    from communications.services import incident_phase_changed_handle

    incident_phase_changed_handle(incident=incident, previous_phase=previous_phase)


def incident_resolved(*, incident: Incident, actor) -> None:
    """Run after an incident is resolved (it entered the Resolve phase)."""
    from communications.services import incident_resolved_handle
    from paging.services import escalation_resolved
    from postmortems.services import postmortem_create_for_resolved

    escalation_resolved(incident=incident)
    incident_resolved_handle(incident=incident)
    postmortem_create_for_resolved(incident=incident)


def role_assigned(*, assignment: RoleAssignment, actor) -> None:
    """Run after a response role is given to someone."""
    from chatops.services import incident_channel_role_announce

    incident_channel_role_announce(assignment=assignment)


def status_update_posted(*, update: StatusUpdate, actor) -> None:
    """Run after a status update is posted, public or internal."""
    from chatops.services import incident_channel_update_announce
    from communications.services import status_update_posted_handle

    status_update_posted_handle(update=update)
    incident_channel_update_announce(update=update)
