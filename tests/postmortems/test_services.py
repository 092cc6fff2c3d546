import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import services as incident_services
from incidents.models import Level, Severity
from postmortems import services
from postmortems.models import ActionItem, Postmortem
from tests.incidents.factories import commander_user, declare_incident, responder_user, viewer_user

from .factories import (
    ActionItemFactory,
    TeamFactory,
    manager_user,
    priority,
    resolve_incident,
    resolved_incident,
    tick_resolve_item,
)

pytestmark = pytest.mark.django_db

DECLARED = datetime.datetime(2026, 3, 2, 13, 0, tzinfo=datetime.UTC)
RESOLVED = datetime.datetime(2026, 3, 2, 14, 0, tzinfo=datetime.UTC)
SEVERITY_INPUTS = {
    "SEV-1": (Level.HIGH, Level.HIGH),
    "SEV-2": (Level.HIGH, Level.MEDIUM),
    "SEV-3": (Level.HIGH, Level.LOW),
}


def _resolve_at_14(key):
    impact, urgency = SEVERITY_INPUTS[key]
    commander = commander_user()
    with time_machine.travel(DECLARED, tick=False):
        incident = declare_incident(impact=impact, urgency=urgency)
    with time_machine.travel(RESOLVED, tick=False):
        return resolve_incident(incident, commander=commander)


@pytest.mark.parametrize("key", ["SEV-1", "SEV-2", "SEV-3"])
def test_resolve_creates_draft_due_by_severity(key):
    incident = _resolve_at_14(key)

    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.state == Postmortem.State.DRAFT
    assert postmortem.due_at == RESOLVED + Severity.objects.get(key=key).postmortem_due_within


def test_sev1_due_one_day_after_resolve():
    incident = _resolve_at_14("SEV-1")

    assert incident.postmortem.due_at == datetime.datetime(2026, 3, 3, 14, 0, tzinfo=datetime.UTC)


def test_resolve_sev4_creates_no_postmortem():
    incident = resolved_incident(impact=Level.LOW, urgency=Level.LOW)

    assert not Postmortem.objects.filter(incident=incident).exists()


def test_sev4_postmortem_on_request_has_no_deadline():
    incident = resolved_incident(impact=Level.LOW, urgency=Level.LOW)

    postmortem = services.postmortem_create(actor=responder_user(), incident=incident)

    assert postmortem.due_at is None


def test_create_for_open_incident_rejected():
    incident = declare_incident()

    with pytest.raises(ValidationError) as error:
        services.postmortem_create(actor=responder_user(), incident=incident)

    assert "incident" in error.value.message_dict


def test_create_twice_returns_same_postmortem():
    incident = resolved_incident()

    again = services.postmortem_create(actor=responder_user(), incident=incident)

    assert again.pk == incident.postmortem.pk


def test_author_is_incident_commander():
    commander = commander_user()

    incident = resolved_incident(commander=commander)

    assert incident.postmortem.author == commander


def test_timeline_prefilled_with_key_events():
    commander = commander_user()
    with time_machine.travel(DECLARED, tick=False):
        incident = declare_incident(detected_at=DECLARED - datetime.timedelta(minutes=5))
        incident_services.incident_acknowledge(actor=commander, incident=incident)
        note = incident_services.incident_note_add(
            actor=commander, incident=incident, text="Rolled back deploy 42"
        )
        incident_services.timeline_entry_star(actor=commander, entry=note, is_starred=True)
        incident_services.incident_note_add(actor=commander, incident=incident, text="Unstarred")
    with time_machine.travel(RESOLVED - datetime.timedelta(minutes=10), tick=False):
        incident = resolve_incident(incident, commander=commander)
    with time_machine.travel(RESOLVED - datetime.timedelta(minutes=5), tick=False):
        tick_resolve_item(incident, 1, commander)

    events = [entry.event for entry in incident.postmortem.timeline.all()]

    assert events[:3] == ["Impact detected", "Incident declared", "On-call acknowledged"]
    assert "Rolled back deploy 42" in events
    assert "Unstarred" not in events
    assert "Service restored" in events


def test_refresh_adds_root_cause_ticked_after_resolution():
    commander = commander_user()
    incident = resolved_incident(commander=commander)
    tick_resolve_item(incident, 1, commander)
    tick_resolve_item(incident, 2, commander)

    added = services.postmortem_timeline_refresh(actor=commander, postmortem=incident.postmortem)

    events = [entry.event for entry in incident.postmortem.timeline.all()]
    assert added == 2
    assert "Root cause identified" in events
    assert "Fix deployed" in events


def test_refresh_twice_adds_nothing_more():
    commander = commander_user()
    incident = resolved_incident(commander=commander)
    tick_resolve_item(incident, 1, commander)
    services.postmortem_timeline_refresh(actor=commander, postmortem=incident.postmortem)

    added = services.postmortem_timeline_refresh(actor=commander, postmortem=incident.postmortem)

    assert added == 0


def test_update_rejected_when_published():
    incident = resolved_incident()
    postmortem = incident.postmortem
    postmortem.state = Postmortem.State.PUBLISHED
    postmortem.save()

    with pytest.raises(ValidationError):
        services.postmortem_update(
            actor=responder_user(), postmortem=postmortem, fields={"root_cause": "x"}
        )


def test_submit_requires_summary_and_root_cause():
    postmortem = resolved_incident().postmortem

    with pytest.raises(ValidationError) as error:
        services.postmortem_state_change(
            actor=responder_user(), postmortem=postmortem, state=Postmortem.State.IN_REVIEW
        )

    assert "executive summary" in error.value.message_dict["state"][0]


def test_publish_by_reviewer():
    postmortem = resolved_incident().postmortem
    reviewer = responder_user()
    services.postmortem_update(
        actor=reviewer,
        postmortem=postmortem,
        fields={"executive_summary": "API down 1 hour.", "root_cause": "Bad config."},
        reviewers=[reviewer],
    )
    services.postmortem_state_change(
        actor=reviewer, postmortem=postmortem, state=Postmortem.State.IN_REVIEW
    )

    postmortem = services.postmortem_state_change(
        actor=reviewer, postmortem=postmortem, state=Postmortem.State.PUBLISHED
    )

    assert postmortem.published_at is not None


def test_publish_by_non_reviewer_denied():
    postmortem = resolved_incident().postmortem
    services.postmortem_update(
        actor=None,
        postmortem=postmortem,
        fields={"executive_summary": "API down.", "root_cause": "Bad config."},
    )
    services.postmortem_state_change(
        actor=None, postmortem=postmortem, state=Postmortem.State.IN_REVIEW
    )

    with pytest.raises(PermissionDenied):
        services.postmortem_state_change(
            actor=responder_user(), postmortem=postmortem, state=Postmortem.State.PUBLISHED
        )


def test_viewer_cannot_edit():
    postmortem = resolved_incident().postmortem

    with pytest.raises(PermissionDenied):
        services.postmortem_update(
            actor=viewer_user(), postmortem=postmortem, fields={"root_cause": "x"}
        )


def test_action_item_takes_owner_team():
    owner = responder_user()
    team = TeamFactory(members=[owner])
    postmortem = resolved_incident().postmortem

    item = services.action_item_create(
        actor=owner,
        postmortem=postmortem,
        title="Add alert on queue depth",
        owner=owner,
        priority=priority("P1"),
        due_date=datetime.date(2026, 4, 1),
    )

    assert item.team == team
    assert item.incident == postmortem.incident


def test_reassign_moves_item_to_new_owner_team():
    new_owner = responder_user()
    new_team = TeamFactory(members=[new_owner])
    item = ActionItemFactory()

    item = services.action_item_update(
        actor=manager_user(), item=item, changes={"owner": new_owner}, comment="Alice is away"
    )

    assert item.team == new_team
    change = item.changes.get()
    assert change.changes["owner"][1] == new_owner.get_username()
    assert change.comment == "Alice is away"


def test_wont_do_needs_reason():
    item = ActionItemFactory()

    with pytest.raises(ValidationError) as error:
        services.action_item_update(
            actor=manager_user(), item=item, changes={"status": ActionItem.Status.WONT_DO}
        )

    assert "wont_do_reason" in error.value.message_dict


def test_done_sets_closed_at_and_reopen_clears_it():
    item = ActionItemFactory()
    manager = manager_user()

    item = services.action_item_update(
        actor=manager, item=item, changes={"status": ActionItem.Status.DONE}
    )
    closed_at = item.closed_at
    item = services.action_item_update(
        actor=manager, item=item, changes={"status": ActionItem.Status.OPEN}
    )

    assert closed_at is not None
    assert item.closed_at is None


def test_owner_may_change_own_item_only():
    owner = responder_user()
    item = ActionItemFactory(owner=owner)
    other = ActionItemFactory()

    services.action_item_update(
        actor=owner, item=item, changes={"status": ActionItem.Status.IN_PROGRESS}
    )

    with pytest.raises(PermissionDenied):
        services.action_item_update(
            actor=owner, item=other, changes={"status": ActionItem.Status.IN_PROGRESS}
        )


def test_unchanged_update_records_nothing():
    item = ActionItemFactory()

    services.action_item_update(actor=manager_user(), item=item, changes={"title": item.title})

    assert not item.changes.exists()


def test_bulk_status_change_counts_changed():
    manager = manager_user()
    items = [ActionItemFactory(), ActionItemFactory(status=ActionItem.Status.DONE)]

    changed = services.action_item_bulk_status_change(
        actor=manager, items=items, status=ActionItem.Status.DONE
    )

    assert changed == 1


def test_bulk_status_change_needs_manager():
    with pytest.raises(PermissionDenied):
        services.action_item_bulk_status_change(
            actor=responder_user(), items=[ActionItemFactory()], status=ActionItem.Status.DONE
        )
