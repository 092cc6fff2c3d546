import datetime
from dataclasses import dataclass, field

from django.db.models import QuerySet

from incidents.models import Incident, TimelineEntry

from .models import Escalation, EscalationPage, EscalationTrigger, NoProgressThreshold
from .services import step_due_at


@dataclass
class StepRow:
    number: int
    label: str
    delay: datetime.timedelta
    state: str  # paged, next, waiting or skipped
    due_at: datetime.datetime | None
    pages: list[EscalationPage] = field(default_factory=list)


def escalation_trigger_list() -> QuerySet[EscalationTrigger]:
    return EscalationTrigger.objects.order_by("position")


def _last_person_activity(incident: Incident) -> datetime.datetime:
    """Return the time of the latest timeline entry made by a person.

    Pages and other system entries are not progress, so they do not count.
    """
    latest = (
        TimelineEntry.objects.filter(incident=incident, actor__isnull=False)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return latest or incident.declared_at


def _step_rows(escalation: Escalation, pages: list[EscalationPage]) -> list[StepRow]:
    rows = []
    for index, step in enumerate(escalation.steps):
        step_pages = [page for page in pages if page.step == index]
        if step_pages:
            state, due_at = "paged", step_pages[0].due_at
        elif escalation.is_running and index == escalation.next_step:
            state, due_at = "next", escalation.next_due_at
        elif escalation.is_running and index > escalation.next_step:
            state, due_at = "waiting", step_due_at(escalation, index, escalation.next_round)
        else:
            state, due_at = "skipped", None
        rows.append(
            StepRow(
                number=index + 1,
                label=step["label"],
                delay=datetime.timedelta(seconds=step["delay_seconds"]),
                state=state,
                due_at=due_at,
                pages=step_pages,
            )
        )
    return rows


def escalation_panel_get(*, incident: Incident, now: datetime.datetime) -> dict | None:
    """Return what the incident page shows about paging: steps, pages, response deadline, the
    acknowledgement and whether the no-progress rule suggests escalating."""
    escalation = (
        Escalation.objects.select_related("acknowledged_by").filter(incident=incident).first()
    )
    if escalation is None:
        return None
    pages = list(
        escalation.pages.select_related("recipient", "trigger", "escalated_by").order_by(
            "paged_at", "id"
        )
    )
    current = [page for page in pages if page.run == escalation.run]
    acknowledgement = (
        TimelineEntry.objects.filter(incident=incident, kind=TimelineEntry.Kind.ACKNOWLEDGED)
        .select_related("actor")
        .order_by("occurred_at")
        .first()
    )
    can_escalate = incident.is_open and escalation.next_step < len(escalation.steps)
    threshold = NoProgressThreshold.objects.filter(severity_id=incident.severity_id).first()
    no_progress_for = now - _last_person_activity(incident)
    suggest = bool(can_escalate and threshold and no_progress_for >= threshold.after)
    next_label = escalation.steps[escalation.next_step]["label"] if can_escalate else ""
    return {
        "escalation": escalation,
        "steps": _step_rows(escalation, current),
        "earlier_pages": [page for page in pages if page.run != escalation.run],
        "repeats": escalation.policy_snapshot.get("repeat_times", 0),
        "acknowledgement": acknowledgement,
        "awaiting_acknowledgement": incident.acknowledged_at is None and incident.is_open,
        "can_escalate": can_escalate,
        "next_label": next_label,
        "suggest_escalation": suggest,
        "no_progress_for": no_progress_for,
        "no_progress_threshold": threshold.after if threshold else None,
        "triggers": escalation_trigger_list(),
    }


def incident_awaiting_acknowledgement_list(*, user) -> QuerySet[Incident]:
    """Return the open incidents that paged the user and that nobody has acknowledged yet."""
    from incidents.selectors import incident_open_list

    return (
        incident_open_list(user=user)
        .filter(
            escalation__pages__recipient=user,
            escalation__acknowledged_at__isnull=True,
            escalation__stopped_at__isnull=True,
        )
        .distinct()
        .order_by("severity__level", "detected_at")
    )
