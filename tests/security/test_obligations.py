import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from incidents.models import TimelineEntry
from security import services
from security.models import ObligationReminder, RegulatoryObligation
from security.tasks import obligation_remind_task, obligation_reminders_sweep_task

from .factories import legal_counsel_for, mark_security_incident, regulation, security_user

UTC = datetime.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
MONDAY_0900 = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
THURSDAY_0900 = datetime.datetime(2026, 12, 10, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def _gdpr_obligation(aware_at=MONDAY_0900) -> RegulatoryObligation:
    with time_machine.travel(aware_at + datetime.timedelta(minutes=30), tick=False):
        record = mark_security_incident(class_key="S1", aware_at=aware_at)
        counsel = legal_counsel_for(record)
        (obligation,) = services.regulatory_obligations_mark(
            actor=counsel, security_incident=record, regulations=[regulation("gdpr")]
        )
    return obligation


def _reminders(obligation) -> list[tuple[str, datetime.timedelta]]:
    return list(obligation.reminders.order_by("sent_at").values_list("kind", "before"))


def test_gdpr_due_72_hours_after_awareness():
    obligation = _gdpr_obligation()

    assert obligation.due_at == THURSDAY_0900


def test_deadline_counts_clock_hours_across_dst():
    friday_0900_berlin = datetime.datetime(2027, 3, 26, 9, 0, tzinfo=BERLIN)

    obligation = _gdpr_obligation(aware_at=friday_0900_berlin)

    # Summer time starts on Sunday 28 March, so 72 hours later reads 10:00 in Berlin.
    assert obligation.due_at.astimezone(BERLIN) == datetime.datetime(
        2027, 3, 29, 10, 0, tzinfo=BERLIN
    )


def test_pci_dss_due_at_awareness():
    with time_machine.travel(MONDAY_0900 + datetime.timedelta(hours=1), tick=False):
        record = mark_security_incident(class_key="S1", aware_at=MONDAY_0900)
        counsel = legal_counsel_for(record)

        (obligation,) = services.regulatory_obligations_mark(
            actor=counsel, security_incident=record, regulations=[regulation("pci_dss")]
        )

    assert obligation.due_at == MONDAY_0900


@pytest.mark.parametrize("key", ["ccpa", "soc2"])
def test_no_fixed_deadline_has_no_due_time(key):
    record = mark_security_incident(class_key="S1")
    counsel = legal_counsel_for(record)

    (obligation,) = services.regulatory_obligations_mark(
        actor=counsel, security_incident=record, regulations=[regulation(key)]
    )

    assert obligation.due_at is None
    assert obligation.overdue_by(obligation.marked_at + datetime.timedelta(days=365)) is None


def test_only_legal_counsel_marks_regulations():
    record = mark_security_incident()
    member = security_user()

    with pytest.raises(PermissionDenied):
        services.regulatory_obligations_mark(
            actor=member, security_incident=record, regulations=[regulation("gdpr")]
        )


def test_awareness_change_moves_open_deadline():
    obligation = _gdpr_obligation()
    record = obligation.security_incident
    earlier = MONDAY_0900 - datetime.timedelta(hours=2)

    with time_machine.travel(MONDAY_0900 + datetime.timedelta(hours=1), tick=False):
        services.security_incident_update(
            actor=security_user(),
            security_incident=record,
            security_class=record.security_class,
            aware_at=earlier,
        )

    obligation.refresh_from_db()
    assert obligation.due_at == THURSDAY_0900 - datetime.timedelta(hours=2)


def test_reminders_at_each_point_once():
    obligation = _gdpr_obligation()
    ticks = [
        THURSDAY_0900 - datetime.timedelta(hours=30),  # before any reminder point
        THURSDAY_0900 - datetime.timedelta(hours=24),
        THURSDAY_0900 - datetime.timedelta(hours=23),  # the 24h point again
        THURSDAY_0900 - datetime.timedelta(hours=6),
        THURSDAY_0900 - datetime.timedelta(minutes=59),
        THURSDAY_0900 - datetime.timedelta(minutes=1),
        THURSDAY_0900,
        THURSDAY_0900 + datetime.timedelta(hours=5),
    ]

    for now in ticks:
        with time_machine.travel(now, tick=False):
            obligation_remind_task(obligation.pk)

    assert _reminders(obligation) == [
        (ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=24)),
        (ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=6)),
        (ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=1)),
        (ObligationReminder.Kind.OVERDUE, datetime.timedelta(0)),
    ]


def test_late_start_skips_stale_points():
    obligation = _gdpr_obligation()

    with time_machine.travel(THURSDAY_0900 - datetime.timedelta(hours=3), tick=False):
        obligation_remind_task(obligation.pk)

    assert _reminders(obligation) == [
        (ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=6)),
    ]


def test_reminder_recorded_on_timeline():
    obligation = _gdpr_obligation()
    lead = security_user(username="lead")
    record = obligation.security_incident
    services.security_role_assign(
        actor=lead, security_incident=record, role=record_role("security_lead"), user=lead
    )

    with time_machine.travel(THURSDAY_0900 + datetime.timedelta(minutes=5), tick=False):
        obligation_remind_task(obligation.pk)

    entry = record.incident.timeline.filter(kind=TimelineEntry.Kind.SYSTEM).last()
    assert entry.message.startswith("Reminder to ")
    assert "lead" in entry.message
    assert "OVERDUE" in entry.message


def record_role(key):
    from security.models import SecurityRole

    return SecurityRole.objects.get(key=key)


def test_recording_notice_closes_and_stops_reminders():
    obligation = _gdpr_obligation()
    counsel = obligation.marked_by

    with time_machine.travel(THURSDAY_0900 - datetime.timedelta(hours=10), tick=False):
        services.regulatory_obligation_close(
            actor=counsel,
            obligation=obligation,
            notified_at=THURSDAY_0900 - datetime.timedelta(hours=11),
            notice_method="DPA online breach form",
            notice_reference="DPA-2026-0042",
        )
    with time_machine.travel(THURSDAY_0900 + datetime.timedelta(hours=1), tick=False):
        sent = obligation_remind_task(obligation.pk)

    obligation.refresh_from_db()
    assert obligation.is_open is False
    assert obligation.notice_method == "DPA online breach form"
    assert sent is False
    assert _reminders(obligation) == []


def test_close_needs_method():
    obligation = _gdpr_obligation()

    with (
        time_machine.travel(MONDAY_0900 + datetime.timedelta(hours=2), tick=False),
        pytest.raises(ValidationError) as error,
    ):
        services.regulatory_obligation_close(
            actor=obligation.marked_by,
            obligation=obligation,
            notified_at=MONDAY_0900 + datetime.timedelta(hours=1),
            notice_method="  ",
        )

    assert "notice_method" in error.value.message_dict


def test_sweep_reminds_each_due_obligation(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    first, second = _gdpr_obligation(), _gdpr_obligation()

    with time_machine.travel(THURSDAY_0900 - datetime.timedelta(hours=5), tick=False):
        sent = obligation_reminders_sweep_task()

    assert sent == 2
    assert _reminders(first) == [(ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=6))]
    assert _reminders(second) == [(ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=6))]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_send_once():
    obligation = _gdpr_obligation()
    barrier = threading.Barrier(4)
    results = []

    def tick():
        try:
            barrier.wait()
            results.append(obligation_remind_task(obligation.pk))
        finally:
            connection.close()

    # time-machine patches the clock for the whole process, so the threads share one travel.
    for now in (THURSDAY_0900 - datetime.timedelta(hours=5), THURSDAY_0900):
        threads = [threading.Thread(target=tick) for _ in range(4)]
        with time_machine.travel(now, tick=False):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    assert sorted(results) == [False] * 6 + [True] * 2
    assert _reminders(obligation) == [
        (ObligationReminder.Kind.BEFORE, datetime.timedelta(hours=6)),
        (ObligationReminder.Kind.OVERDUE, datetime.timedelta(0)),
    ]
    reminder_entries = obligation.security_incident.incident.timeline.filter(
        kind=TimelineEntry.Kind.SYSTEM, message__startswith="Reminder to "
    )
    assert reminder_entries.count() == 2


def test_reminder_queued_to_lead_and_counsel_only():
    from django.contrib.auth.models import Group

    from notifications.models import Message

    obligation = _gdpr_obligation()
    record = obligation.security_incident
    counsel = obligation.marked_by
    lead = security_user(username="lead")
    services.security_role_assign(
        actor=lead, security_incident=record, role=record_role("security_lead"), user=lead
    )
    counsel.groups.remove(Group.objects.get(name="Security"))

    with time_machine.travel(THURSDAY_0900 - datetime.timedelta(hours=5), tick=False):
        obligation_remind_task(obligation.pk)

    messages = Message.objects.filter(incident=record.incident)
    assert [message.recipient for message in messages] == [lead]
    assert messages[0].subject == f"{record.incident.reference}: GDPR notice reminder"
