"""What other apps do when an incident changes, called explicitly by the incident services.

Each function runs inside the service's transaction, after the change and its timeline entry are
written. Work that talks to the outside world must be deferred with `transaction.on_commit` (or
written to a table that a task sends from), so a rolled-back change sends nothing. Apps add their
calls here instead of listening to signals, so the path of every effect can be read in one place.
"""

from .models import Incident, RoleAssignment, StatusUpdate


def incident_declared(*, incident: Incident, actor) -> None:
    """Run after an incident is declared (from the web, an alert, Slack or the admin)."""


def incident_severity_changed(*, incident: Incident, previous_severity, actor) -> None:
    """Run after an incident's severity changes."""
    from security.services import security_minimum_severity_check

    # Raises ValidationError, rolling the change back, below the security class's minimum.
    security_minimum_severity_check(incident=incident)


def incident_acknowledged(*, incident: Incident, actor) -> None:
    """Run after the first acknowledgement of an incident."""


def incident_phase_changed(*, incident: Incident, previous_phase: str, actor) -> None:
    """Run after an incident moves to another phase."""


def incident_resolved(*, incident: Incident, actor) -> None:
    """Run after an incident is resolved (it entered the Resolve phase)."""
    from postmortems.services import postmortem_create_for_resolved

    postmortem_create_for_resolved(incident=incident)


def role_assigned(*, assignment: RoleAssignment, actor) -> None:
    """Run after a response role is given to someone."""


def status_update_posted(*, update: StatusUpdate, actor) -> None:
    """Run after a status update is posted, public or internal."""
