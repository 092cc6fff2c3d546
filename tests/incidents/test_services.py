import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import services
from incidents.models import (
    ChecklistItem,
    Level,
    Phase,
    ResponseRole,
    Severity,
    SeverityCriterion,
    TimelineEntry,
    UpdateStatus,
)
from tests.incidents.factories import (
    commander_role,
    commander_user,
    declare_incident,
    responder_user,
    viewer_user,
)

pytestmark = pytest.mark.django_db
DECLARED_AT = datetime.datetime(2026, 3, 4, 10, 0, tzinfo=datetime.UTC)


def _kinds(incident):
    return list(incident.timeline.order_by("occurred_at", "id").values_list("kind", flat=True))


def _tick_all(actor, incident, phase):
    for item in ChecklistItem.objects.filter(incident=incident, phase=phase):
        services.checklist_item_tick(actor=actor, item=item)


def test_declare_suggests_severity_from_matrix():
    incident = declare_incident(impact=Level.HIGH, urgency=Level.MEDIUM)

    assert incident.severity.key == "SEV-2"
    assert incident.suggested_severity.key == "SEV-2"


def test_declare_criterion_raises_suggestion():
    criterion = SeverityCriterion.objects.get(severity__key="SEV-1", position=1)

    incident = declare_incident(impact=Level.LOW, urgency=Level.LOW, criteria=[criterion])

    assert incident.severity.key == "SEV-1"


def test_declare_override_needs_reason():
    sev3 = Severity.objects.get(key="SEV-3")

    with pytest.raises(ValidationError) as error:
        declare_incident(impact=Level.HIGH, urgency=Level.HIGH, severity=sev3)

    assert "severity_reason" in error.value.message_dict


def test_declare_override_records_reason():
    sev3 = Severity.objects.get(key="SEV-3")

    incident = declare_incident(
        impact=Level.HIGH, urgency=Level.HIGH, severity=sev3, severity_reason="Staging only"
    )

    entry = incident.timeline.get(kind=TimelineEntry.Kind.DECLARED)
    assert incident.severity.key == "SEV-3"
    assert entry.details["suggested_severity"] == "SEV-1"
    assert entry.details["severity_reason"] == "Staging only"


def test_declare_sets_channel_name():
    with time_machine.travel(DECLARED_AT, tick=False):
        incident = declare_incident(title="Elevated Error Rates on the Public API!")

    assert incident.channel_name == "#inc-20260304-elevated-error-rates-on-the"


def test_declare_channel_name_unique():
    with time_machine.travel(DECLARED_AT, tick=False):
        first = declare_incident(title="Database down")
        second = declare_incident(title="Database down")

    assert first.channel_name == "#inc-20260304-database-down"
    assert second.channel_name == "#inc-20260304-database-down-2"


def test_declare_copies_detection_checklist():
    incident = declare_incident()

    items = list(incident.checklist_items.values_list("phase", "text"))
    assert items[0] == (Phase.DETECT, "Alert received and acknowledged")
    assert len(items) == 5


def test_declare_assigns_commander():
    commander = commander_user()

    incident = declare_incident(commander=commander)

    assert incident.role_assignments.get().user == commander
    assert _kinds(incident) == [TimelineEntry.Kind.DECLARED, TimelineEntry.Kind.ROLE_ASSIGNED]


def test_declare_rejects_future_detection():
    with pytest.raises(ValidationError) as error:
        declare_incident(detected_at=datetime.datetime(2999, 1, 1, tzinfo=datetime.UTC))

    assert "detected_at" in error.value.message_dict


def test_declare_by_viewer_denied():
    with pytest.raises(PermissionDenied):
        declare_incident(actor=viewer_user())


def test_declare_sets_first_update_due():
    with time_machine.travel(DECLARED_AT, tick=False):
        incident = declare_incident(impact=Level.HIGH, urgency=Level.HIGH)

    assert incident.next_update_due_at == DECLARED_AT + datetime.timedelta(minutes=15)


def test_public_update_restarts_cadence():
    with time_machine.travel(DECLARED_AT, tick=False) as traveller:
        incident = declare_incident(impact=Level.HIGH, urgency=Level.HIGH)
        traveller.move_to(DECLARED_AT + datetime.timedelta(minutes=14))
        services.status_update_post(
            actor=incident.declared_by,
            incident=incident,
            status=UpdateStatus.INVESTIGATING,
            body="Investigating",
            is_public=True,
        )

    incident.refresh_from_db()
    assert incident.next_update_due_at == DECLARED_AT + datetime.timedelta(minutes=29)


def test_internal_update_keeps_cadence():
    with time_machine.travel(DECLARED_AT, tick=False) as traveller:
        incident = declare_incident(impact=Level.HIGH, urgency=Level.HIGH)
        traveller.move_to(DECLARED_AT + datetime.timedelta(minutes=5))
        services.status_update_post(
            actor=incident.declared_by,
            incident=incident,
            status=UpdateStatus.INVESTIGATING,
            body="Looking at the load balancer",
            is_public=False,
        )

    incident.refresh_from_db()
    assert incident.next_update_due_at == DECLARED_AT + datetime.timedelta(minutes=15)


def test_severity_change_takes_new_cadence():
    with time_machine.travel(DECLARED_AT, tick=False):
        incident = declare_incident(impact=Level.HIGH, urgency=Level.MEDIUM)
        services.incident_severity_change(
            actor=incident.declared_by,
            incident=incident,
            severity=Severity.objects.get(key="SEV-1"),
            reason="All customers affected",
        )

    incident.refresh_from_db()
    entry = incident.timeline.get(kind=TimelineEntry.Kind.SEVERITY_CHANGED)
    assert incident.next_update_due_at == DECLARED_AT + datetime.timedelta(minutes=15)
    assert entry.details == {"from": "SEV-2", "to": "SEV-1", "reason": "All customers affected"}


def test_severity_change_needs_reason():
    incident = declare_incident()

    with pytest.raises(ValidationError) as error:
        services.incident_severity_change(
            actor=incident.declared_by,
            incident=incident,
            severity=Severity.objects.get(key="SEV-1"),
            reason=" ",
        )

    assert "reason" in error.value.message_dict


def test_severity_change_by_responder_denied():
    incident = declare_incident()

    with pytest.raises(PermissionDenied):
        services.incident_severity_change(
            actor=responder_user(),
            incident=incident,
            severity=Severity.objects.get(key="SEV-1"),
            reason="Worse",
        )


def test_single_role_passes_to_new_holder():
    first, second = commander_user(), commander_user()
    incident = declare_incident(commander=first)

    services.incident_role_assign(
        actor=first, incident=incident, role=commander_role(), user=second
    )

    holders = list(incident.role_assignments.values_list("user", flat=True))
    entry = incident.timeline.filter(kind=TimelineEntry.Kind.ROLE_ASSIGNED).last()
    assert holders == [second.pk]
    assert entry.details["replaced"] == [first.username]


def test_experts_role_allows_several():
    incident = declare_incident()
    expert_role = ResponseRole.objects.get(key="subject_matter_expert")

    for _ in range(2):
        services.incident_role_assign(
            actor=incident.declared_by, incident=incident, role=expert_role, user=responder_user()
        )

    assert incident.role_assignments.filter(role=expert_role).count() == 2


def test_tick_records_who_and_when():
    responder = responder_user()
    with time_machine.travel(DECLARED_AT, tick=False):
        incident = declare_incident()
        item = services.checklist_item_tick(actor=responder, item=incident.checklist_items.first())

    assert item.ticked_by == responder
    assert item.ticked_at == DECLARED_AT
    assert _kinds(incident)[-1] == TimelineEntry.Kind.CHECKLIST_TICKED


def test_tick_twice_records_once():
    incident = declare_incident()
    item = incident.checklist_items.first()

    services.checklist_item_tick(actor=incident.declared_by, item=item)
    services.checklist_item_tick(actor=incident.declared_by, item=item)

    assert incident.timeline.filter(kind=TimelineEntry.Kind.CHECKLIST_TICKED).count() == 1


def test_phase_change_asks_to_confirm_skips():
    incident = declare_incident()

    with pytest.raises(ValidationError) as error:
        services.incident_phase_change(
            actor=incident.declared_by, incident=incident, phase=Phase.TRIAGE
        )

    incident.refresh_from_db()
    assert "confirm_skip" in error.value.message_dict
    assert incident.phase == Phase.DETECT


def test_phase_change_records_skipped_items():
    incident = declare_incident()

    services.incident_phase_change(
        actor=incident.declared_by, incident=incident, phase=Phase.TRIAGE, confirm_skip=True
    )

    entry = incident.timeline.get(kind=TimelineEntry.Kind.PHASE_CHANGED)
    assert len(entry.details["skipped"]) == 5
    assert incident.checklist_items.filter(skipped_at__isnull=False).count() == 5
    assert incident.checklist_items.filter(phase=Phase.TRIAGE).count() == 6


def test_phase_change_only_to_next_phase():
    incident = declare_incident()

    with pytest.raises(ValidationError) as error:
        services.incident_phase_change(
            actor=incident.declared_by, incident=incident, phase=Phase.RESPOND, confirm_skip=True
        )

    assert "the next phase is Triage" in error.value.message_dict["phase"][0]


def _advance_to_respond(incident, actor):
    for phase in (Phase.TRIAGE, Phase.RESPOND):
        services.incident_phase_change(
            actor=actor, incident=incident, phase=phase, confirm_skip=True
        )


def test_resolve_needs_commander():
    actor = commander_user()
    incident = declare_incident(actor=actor)
    _advance_to_respond(incident, actor)

    with pytest.raises(ValidationError) as error:
        services.incident_phase_change(
            actor=actor, incident=incident, phase=Phase.RESOLVE, confirm_skip=True
        )

    assert "Assign an incident commander first" in error.value.message_dict["phase"][0]


def test_resolve_by_other_commander_denied():
    commander, other = commander_user(), commander_user()
    incident = declare_incident(actor=commander, commander=commander)
    _advance_to_respond(incident, commander)

    with pytest.raises(PermissionDenied):
        services.incident_phase_change(
            actor=other, incident=incident, phase=Phase.RESOLVE, confirm_skip=True
        )


def test_resolve_by_commander_sets_resolved():
    commander = commander_user()
    with time_machine.travel(DECLARED_AT, tick=False) as traveller:
        incident = declare_incident(actor=commander, commander=commander)
        _advance_to_respond(incident, commander)
        traveller.move_to(DECLARED_AT + datetime.timedelta(minutes=42))
        incident = services.incident_phase_change(
            actor=commander, incident=incident, phase=Phase.RESOLVE, confirm_skip=True
        )

    resolved_entry = incident.timeline.get(kind=TimelineEntry.Kind.RESOLVED)
    assert incident.resolved_at == DECLARED_AT + datetime.timedelta(minutes=42)
    assert incident.next_update_due_at is None
    assert resolved_entry.message == "Resolved after 42 minutes"


def test_note_backdated():
    incident = declare_incident()
    happened = incident.declared_at - datetime.timedelta(minutes=3)

    entry = services.incident_note_add(
        actor=incident.declared_by,
        incident=incident,
        text="Deploy 1432 went out",
        occurred_at=happened,
    )

    assert entry.occurred_at == happened
    assert entry.recorded_at > happened
    assert incident.timeline.order_by("occurred_at").first() == entry


def test_note_in_future_rejected():
    incident = declare_incident()

    with pytest.raises(ValidationError) as error:
        services.incident_note_add(
            actor=incident.declared_by,
            incident=incident,
            text="Later",
            occurred_at=datetime.datetime(2999, 1, 1, tzinfo=datetime.UTC),
        )

    assert "occurred_at" in error.value.message_dict


def test_empty_update_rejected():
    incident = declare_incident()

    with pytest.raises(ValidationError) as error:
        services.status_update_post(
            actor=incident.declared_by,
            incident=incident,
            status=UpdateStatus.IDENTIFIED,
            body="  ",
            is_public=True,
        )

    assert "body" in error.value.message_dict
    assert incident.status_updates.count() == 0


def test_acknowledge_once():
    incident = declare_incident()

    services.incident_acknowledge(actor=incident.declared_by, incident=incident)
    services.incident_acknowledge(actor=incident.declared_by, incident=incident)

    assert incident.timeline.filter(kind=TimelineEntry.Kind.ACKNOWLEDGED).count() == 1
