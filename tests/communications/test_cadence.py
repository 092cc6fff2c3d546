import datetime
import threading

import pytest
import time_machine
from django.db import connection

from communications import selectors, services, tasks
from communications.models import CadenceReminder
from incidents import services as incident_services
from incidents.models import Incident, Severity, TimelineEntry
from incidents.selectors import incident_update_overdue_list
from notifications.models import Message
from paging.models import EscalationContact
from tests.communications.factories import (
    communications_lead_assign,
    declare_sev1,
    manager_user,
    public_update_post,
)
from tests.incidents.factories import commander_user, declare_incident

START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def at(hour, minute, second=0):
    return START.replace(hour=hour, minute=minute, second=second)


def sweep(now):
    """Run one sweep and the tasks it fans out, in this process."""
    sent = []
    for due in selectors.cadence_reminder_due_list(now=now):
        reminder = services.cadence_reminder_send(
            incident_id=due.incident_id,
            due_at=due.due_at,
            stage=due.stage,
            recipient_id=due.recipient_id,
        )
        if reminder is not None:
            sent.append(reminder)
    return sent


@pytest.fixture
def commander(db):
    return commander_user(username="ic")


@pytest.fixture
def sev1(commander):
    with time_machine.travel(START, tick=False):
        return declare_sev1(actor=commander, commander=commander)


def test_sev1_first_update_due_in_15_minutes(sev1):
    assert sev1.next_update_due_at == at(10, 15)


def test_sweep_before_reminder_time_sends_nothing(sev1):
    with time_machine.travel(at(10, 11, 59), tick=False):
        sent = sweep(at(10, 11, 59))

    assert sent == []


def test_sev1_reminded_at_1012(sev1, commander):
    with time_machine.travel(at(10, 12), tick=False):
        sent = sweep(at(10, 12))

    assert [(r.stage, r.recipient) for r in sent] == [(CadenceReminder.Stage.DUE_SOON, commander)]
    assert sent[0].due_at == at(10, 15)


def test_reminder_goes_to_email_and_slack(sev1):
    with time_machine.travel(at(10, 12), tick=False):
        sweep(at(10, 12))

    reminders = Message.objects.filter(incident=sev1, dedup_key__startswith="cadence-reminder")
    channels = sorted(reminders.values_list("channel", flat=True))
    assert channels == ["email", "slack"]


def test_reminder_on_timeline(sev1):
    with time_machine.travel(at(10, 12), tick=False):
        sweep(at(10, 12))

    entry = sev1.timeline.filter(kind=TimelineEntry.Kind.SYSTEM).last()
    assert "Due soon reminder sent to ic" in entry.message


def test_sev1_flagged_overdue_at_1015(sev1):
    before = incident_update_overdue_list(user=None, now=at(10, 14, 59))
    after = incident_update_overdue_list(user=None, now=at(10, 15, 1))

    assert sev1 not in before
    assert sev1 in after


def test_sev1_overdue_reminder_at_1015(sev1, commander):
    with time_machine.travel(at(10, 12), tick=False) as traveller:
        sweep(at(10, 12))
        traveller.move_to(at(10, 15))
        sent = sweep(at(10, 15))

    assert [(r.stage, r.recipient) for r in sent] == [(CadenceReminder.Stage.OVERDUE, commander)]


def test_late_sweep_skips_due_soon(sev1):
    with time_machine.travel(at(10, 16), tick=False):
        sent = sweep(at(10, 16))

    assert [r.stage for r in sent] == [CadenceReminder.Stage.OVERDUE]


def test_update_at_1014_moves_due_to_1029(sev1, commander):
    with time_machine.travel(at(10, 14), tick=False):
        public_update_post(sev1, commander)

    sev1.refresh_from_db()
    assert sev1.next_update_due_at == at(10, 29)


def test_update_stops_pending_reminders(sev1, commander):
    with time_machine.travel(at(10, 14), tick=False):
        public_update_post(sev1, commander)
        sent = sweep(at(10, 14))

    assert sent == []


def test_stale_reminder_not_sent(sev1, commander):
    due = selectors.cadence_reminder_due_list(now=at(10, 12))[0]
    with time_machine.travel(at(10, 13), tick=False):
        public_update_post(sev1, commander)

        reminder = services.cadence_reminder_send(
            incident_id=due.incident_id,
            due_at=due.due_at,
            stage=due.stage,
            recipient_id=due.recipient_id,
        )

    assert reminder is None


def test_sev2_moved_to_sev1_takes_15_minute_cadence(commander):
    sev1 = Severity.objects.get(key="SEV-1")
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_incident(actor=commander, commander=commander)
        traveller.move_to(at(10, 5))
        public_update_post(incident, commander)
        incident.refresh_from_db()
        due_as_sev2 = incident.next_update_due_at
        traveller.move_to(at(10, 6))

        incident_services.incident_severity_change(
            actor=commander, incident=incident, severity=sev1, reason="All customers affected"
        )

    incident.refresh_from_db()
    assert due_as_sev2 == at(10, 35)
    assert incident.next_update_due_at == at(10, 20)


def test_second_sweep_sends_nothing_new(sev1):
    with time_machine.travel(at(10, 12), tick=False):
        sweep(at(10, 12))

        sent = sweep(at(10, 12, 30))

    assert sent == []
    assert CadenceReminder.objects.count() == 1


def test_communications_lead_reminded_instead_of_commander(sev1, commander):
    lead = commander_user(username="comms")
    communications_lead_assign(sev1, lead, actor=commander)

    with time_machine.travel(at(10, 12), tick=False):
        sent = sweep(at(10, 12))

    assert [r.recipient for r in sent] == [lead]


def test_escalates_to_commander_then_manager(sev1, commander):
    lead = commander_user(username="comms")
    manager = manager_user(username="em")
    communications_lead_assign(sev1, lead, actor=commander)

    with time_machine.travel(at(10, 15), tick=False) as traveller:
        at_due = sweep(at(10, 15))
        traveller.move_to(at(10, 29, 59))
        before_interval = sweep(at(10, 29, 59))
        traveller.move_to(at(10, 30))
        one_interval = sweep(at(10, 30))
        traveller.move_to(at(10, 45))
        two_intervals = sweep(at(10, 45))

    assert [r.recipient for r in at_due] == [lead]
    assert before_interval == []
    assert [(r.stage, r.recipient) for r in one_interval] == [
        (CadenceReminder.Stage.ESCALATED, commander)
    ]
    assert [(r.stage, r.recipient) for r in two_intervals] == [
        (CadenceReminder.Stage.ESCALATED, manager)
    ]


def test_commander_as_lead_escalates_to_manager_first(sev1):
    manager = manager_user(username="em")

    with time_machine.travel(at(10, 30), tick=False):
        sent = sweep(at(10, 30))

    assert [(r.stage, r.recipient) for r in sent] == [
        (CadenceReminder.Stage.OVERDUE, sev1.role_assignments.get().user),
        (CadenceReminder.Stage.ESCALATED, manager),
    ]


def _engineering_manager_contact_hold(user):
    contact = EscalationContact.objects.get(key=EscalationContact.ENGINEERING_MANAGER)
    contact.holder = user
    contact.save()


def test_engineering_manager_is_l2_contact_holder(db):
    manager_user(username="em-first")
    holder = manager_user(username="em-on-duty")
    _engineering_manager_contact_hold(holder)

    manager = selectors.engineering_manager_get()

    assert manager == holder


def test_engineering_manager_skips_inactive_holder(db):
    first = manager_user(username="em-first")
    holder = manager_user(username="em-gone", is_active=False)
    _engineering_manager_contact_hold(holder)

    manager = selectors.engineering_manager_get()

    assert manager == first


def test_engineering_manager_is_first_active_manager(db):
    inactive = manager_user(username="em-gone", is_active=False)
    first = manager_user(username="em-first")
    manager_user(username="em-second")

    manager = selectors.engineering_manager_get()

    assert manager == first
    assert manager != inactive


def test_reminder_across_dst_change(commander):
    # Central Europe moves its clocks forward at 01:00 UTC on 2026-03-29.
    declared = datetime.datetime(2026, 3, 29, 0, 55, tzinfo=datetime.UTC)
    with time_machine.travel(declared, tick=False):
        declare_sev1(actor=commander, commander=commander)
    reminder_at = datetime.datetime(2026, 3, 29, 1, 7, tzinfo=datetime.UTC)

    with time_machine.travel(reminder_at, tick=False):
        sent = sweep(reminder_at)

    assert [r.due_at for r in sent] == [datetime.datetime(2026, 3, 29, 1, 10, tzinfo=datetime.UTC)]


def test_sweep_task_runs(sev1):
    with time_machine.travel(at(10, 12), tick=False):
        tasks.cadence_sweep_task()
        tasks.cadence_reminder_send_task(
            sev1.pk, at(10, 15).isoformat(), "due_soon", sev1.role_assignments.get().user_id
        )

    assert CadenceReminder.objects.filter(incident=sev1).count() == 1


def _open_incidents(count, commander):
    with time_machine.travel(START, tick=False):
        for number in range(count):
            declare_sev1(actor=commander, commander=commander, title=f"Outage {number}")


def test_sweep_query_count_flat(commander, django_assert_num_queries):
    manager_user(username="em")
    _open_incidents(1, commander)
    # The engineering manager lookup reads the L2 contact, then falls back to the Managers group.
    with django_assert_num_queries(6):
        one = selectors.cadence_reminder_due_list(now=at(10, 30))
    _open_incidents(4, commander)

    with django_assert_num_queries(6):
        five = selectors.cadence_reminder_due_list(now=at(10, 30))

    assert len(one) == 2
    assert len(five) == 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_one_reminder(transactional_db):
    commander = commander_user(username="ic")
    with time_machine.travel(START, tick=False):
        incident = declare_sev1(actor=commander, commander=commander)
    barrier = threading.Barrier(2)
    results = []

    def send():
        try:
            barrier.wait(timeout=10)
            with time_machine.travel(at(10, 12), tick=False):
                results.append(
                    services.cadence_reminder_send(
                        incident_id=incident.pk,
                        due_at=at(10, 15),
                        stage=CadenceReminder.Stage.DUE_SOON,
                        recipient_id=commander.pk,
                    )
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len([result for result in results if result is not None]) == 1
    assert CadenceReminder.objects.count() == 1
    assert Message.objects.filter(incident=incident, dedup_key__startswith="cadence").count() == 2
    assert (
        Incident.objects.get(pk=incident.pk)
        .timeline.filter(message__contains="reminder sent")
        .count()
        == 1
    )
