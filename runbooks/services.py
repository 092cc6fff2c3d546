"""Writes for runbooks: recording on an incident's timeline which runbook step someone ran."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Source, TimelineEntry
from incidents.services import timeline_entry_add

from .models import Runbook, RunbookStepRun
from .selectors import runbook_step_list

logger = logging.getLogger(__name__)


@transaction.atomic
def runbook_step_run_record(
    *,
    actor,
    incident: Incident,
    runbook: Runbook,
    step_number: int,
    note: str = "",
    source: str = Source.WEB,
) -> RunbookStepRun:
    """Record that the actor ran one numbered step of a runbook for the incident."""
    if actor is not None and (
        not actor.is_active or not actor.has_perm("runbooks.record_runbookstep")
    ):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission 'runbooks.record_runbookstep'; "
            "ask an admin to add you to the Responders group."
        )
    steps = {step.number: step for step in runbook_step_list(runbook)}
    step = steps.get(step_number)
    if step is None:
        numbers = ", ".join(str(number) for number in steps) or "none"
        raise ValidationError(
            {"step_number": f"{runbook.title} has no step {step_number}; its steps: {numbers}."}
        )
    now = timezone.now()
    run = RunbookStepRun.objects.create(
        incident=incident,
        runbook=runbook,
        step_number=step.number,
        step_title=step.title,
        note=note.strip(),
        run_by=actor,
        run_at=now,
    )
    message = f"Ran step {step.number} ({step.title}) of runbook {runbook.title}"
    if run.note:
        message += f": {run.note}"
    timeline_entry_add(
        incident=incident,
        kind=TimelineEntry.Kind.NOTE,
        actor=actor,
        source=source,
        message=message,
        details={"runbook": runbook.key, "step_number": step.number, "runbook_step_run": run.pk},
        occurred_at=now,
    )
    logger.info("Recorded runbook %s step %s on incident %s", runbook.key, step.number, incident.pk)
    return run
