import pytest
import time_machine

from incidents import services as incident_services
from incidents.models import Severity, TimelineEntry
from notifications.models import Channel, Message
from paging import services
from paging.models import Escalation, EscalationPage, EscalationPolicy, EscalationStep, StopReason

from .factories import START, contact_method_add, declare_sev1, declare_sev2, declare_sev3, minutes

pytestmark = pytest.mark.django_db


def _sweep_every(traveller, *, seconds: int, until_minutes: int) -> None:
    for tick in range(1, until_minutes * 60 // seconds + 1):
        traveller.move_to(START + minutes(tick * seconds / 60))
        services.escalation_sweep()


def _paged() -> list[tuple[str, int]]:
    return [
        (page.recipient.username, int((page.paged_at - START).total_seconds() // 60))
        for page in EscalationPage.objects.select_related("recipient").order_by("paged_at", "id")
    ]


def test_sev1_unacknowledged_pages_each_level_once(on_call):
    with time_machine.travel(START, tick=False) as traveller:
        declare_sev1()
        _sweep_every(traveller, seconds=30, until_minutes=75)

    assert _paged() == [
        ("primary", 0),
        ("secondary", 15),
        ("manager", 30),
        ("vp", 45),
        ("cto", 60),
    ]


def test_sev1_pages_each_channel_once_per_step(on_call):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1()
        _sweep_every(traveller, seconds=300, until_minutes=75)

    keys = list(
        Message.objects.filter(incident=incident, dedup_key__startswith="paging:").values_list(
            "dedup_key", flat=True
        )
    )
    assert len(keys) == len(set(keys))
    # Layer steps use the SEV-1 routes, while the VP and CTO roles use their own contact methods.
    assert len(keys) == 4 + 4 + 4 + 2 + 1


def test_sev1_acknowledged_at_20_stops_paging(on_call, people):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1()
        _sweep_every(traveller, seconds=30, until_minutes=20)
        incident_services.incident_acknowledge(actor=people["secondary"], incident=incident)
        pages_before = EscalationPage.objects.count()
        messages_before = Message.objects.count()
        for extra in range(1, 56):
            traveller.move_to(START + minutes(20 + extra))
            services.escalation_sweep()

    escalation = Escalation.objects.get(incident=incident)
    assert _paged() == [("primary", 0), ("secondary", 15)]
    assert EscalationPage.objects.count() == pages_before
    assert Message.objects.count() == messages_before
    assert escalation.stop_reason == StopReason.ACKNOWLEDGED
    assert escalation.acknowledged_by == people["secondary"]
    assert escalation.response_missed_at == escalation.response_due_at


def test_restart_sends_missed_steps_once(on_call):
    with time_machine.travel(START, tick=False) as traveller:
        declare_sev1()
        traveller.move_to(START + minutes(50))

        first = services.escalation_sweep()
        second = services.escalation_sweep()

    assert first.pages == 3
    assert second.pages == 0
    assert _paged() == [("primary", 0), ("secondary", 50), ("manager", 50), ("vp", 50)]


def test_page_row_blocks_second_page(on_call):
    with time_machine.travel(START, tick=False):
        incident = declare_sev1()
    escalation = Escalation.objects.select_related("incident").get(incident=incident)
    escalation.next_step = 0
    messages_before = Message.objects.count()

    page = services._step_page(escalation, now=START, due_at=START)

    assert page is None
    assert Message.objects.count() == messages_before


def test_policy_edit_spares_pages_in_flight(on_call):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1()
        policy = EscalationPolicy.objects.get(severity__key="SEV-1")
        EscalationStep.objects.filter(policy=policy, position=2).update(delay=minutes(40))
        traveller.move_to(START + minutes(15))

        services.escalation_sweep()

    assert EscalationPage.objects.filter(escalation__incident=incident).count() == 2


def test_repeat_from_step_runs_rounds(on_call):
    policy = EscalationPolicy.objects.get(severity__key="SEV-3")
    policy.repeat_from_position = 1
    policy.repeat_times = 2
    policy.repeat_after = minutes(30)
    policy.save()
    with time_machine.travel(START, tick=False) as traveller:
        declare_sev3()
        traveller.move_to(START + minutes(24 * 60))

        services.escalation_sweep()

    # Steps at 0 and 2 h, then rounds every 2 h 30 min from the first step.
    assert _paged() == [("primary", 0)] + [
        (name, 24 * 60) for name in ("secondary", "primary", "secondary", "primary", "secondary")
    ]
    rounds = list(EscalationPage.objects.order_by("id").values_list("round", "due_at"))
    assert rounds[-1] == (2, START + minutes(120 + 2 * 150))


def test_sev4_posts_to_alerts_low_only(on_call, settings):
    severity = Severity.objects.get(key="SEV-4")
    with time_machine.travel(START, tick=False):
        incident = declare_sev2(severity=severity, severity_reason="Cosmetic only")

    message = Message.objects.get(dedup_key__startswith="paging:", incident=incident)
    assert message.channel == Channel.SLACK
    assert message.target == "#alerts-low"
    assert Escalation.objects.get(incident=incident).stop_reason == StopReason.NO_POLICY


def test_shared_channel_post_has_no_acknowledge_link(on_call):
    with time_machine.travel(START, tick=False):
        incident = declare_sev3()

    slack = Message.objects.get(
        dedup_key__startswith="paging:", incident=incident, channel=Channel.SLACK
    )
    email = Message.objects.get(
        dedup_key__startswith="paging:", incident=incident, channel=Channel.EMAIL
    )
    assert slack.target == "#alerts"
    assert "/paging/acknowledge/" not in slack.body
    assert "/paging/acknowledge/" in email.body


def test_unconfigured_sms_recorded_as_skipped(on_call, people, settings):
    settings.SMS_PROVIDER_URL = ""
    contact_method_add(people["primary"], Channel.SMS, "+4930123456")

    with time_machine.travel(START, tick=False):
        incident = declare_sev2()

    sms = Message.objects.get(
        dedup_key__startswith="paging:", incident=incident, channel=Channel.SMS
    )
    assert sms.status == Message.Status.SKIPPED
    assert "SMS_PROVIDER_URL" in sms.last_error


def test_nobody_on_call_still_records_page(people, monkeypatch):
    monkeypatch.setattr("oncall.selectors.layer_on_call_get", lambda **kwargs: None)

    with time_machine.travel(START, tick=False):
        incident = declare_sev2()

    page = EscalationPage.objects.get(escalation__incident=incident)
    assert page.recipient is None
    assert sorted(
        Message.objects.filter(incident=incident, dedup_key__startswith="paging:").values_list(
            "channel", flat=True
        )
    ) == [
        Channel.PAGERDUTY,
        Channel.SLACK,
    ]


def test_layer_lookup_gets_time_and_severity(on_call):
    with time_machine.travel(START, tick=False):
        declare_sev1()

    assert on_call == [("primary", START, "SEV-1")]


def test_every_page_is_on_timeline(on_call):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev1()
        traveller.move_to(START + minutes(16))
        services.escalation_sweep()

    entries = TimelineEntry.objects.filter(incident=incident, message__startswith="Paged ")
    assert [entry.source for entry in entries] == ["system", "system"]
    assert entries[1].message.startswith("Paged secondary as Secondary on call (step 2 of 5)")


def test_severity_change_switches_policy(on_call, people):
    commander = people["management"]
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev3(actor=commander)
        traveller.move_to(START + minutes(10))
        incident_services.incident_severity_change(
            actor=commander,
            incident=incident,
            severity=Severity.objects.get(key="SEV-1"),
            reason="Every customer is affected",
        )
        traveller.move_to(START + minutes(25))
        services.escalation_sweep()

    escalation = Escalation.objects.get(incident=incident)
    assert _paged() == [("primary", 0), ("primary", 10), ("secondary", 25)]
    assert escalation.run == 2
    assert escalation.severity_key == "SEV-1"
    assert TimelineEntry.objects.filter(
        incident=incident, message__startswith="Escalation switched from the SEV-3 policy"
    ).exists()


def test_response_deadline_miss_recorded_by_sweep(on_call):
    with time_machine.travel(START, tick=False) as traveller:
        incident = declare_sev2()
        traveller.move_to(START + minutes(29))
        early = services.escalation_sweep()
        traveller.move_to(START + minutes(31))
        late = services.escalation_sweep()
        again = services.escalation_sweep()

    escalation = Escalation.objects.get(incident=incident)
    assert early.missed_deadlines == 0
    assert late.missed_deadlines == 1
    assert again.missed_deadlines == 0
    assert escalation.response_missed_at == START + minutes(30)


def test_resolve_stops_escalation(on_call, people):
    commander = people["management"]
    with time_machine.travel(START, tick=False):
        incident = declare_sev1(actor=commander, commander=commander)
        for phase in ("triage", "respond", "resolve"):
            incident_services.incident_phase_change(
                actor=commander, incident=incident, phase=phase, confirm_skip=True
            )

    escalation = Escalation.objects.get(incident=incident)
    assert escalation.stop_reason == StopReason.RESOLVED
    assert escalation.next_due_at is None


def test_sweep_query_count_flat(on_call, django_assert_num_queries):
    with time_machine.travel(START, tick=False) as traveller:
        declare_sev1()
        traveller.move_to(START + minutes(16))
        with django_assert_num_queries(QUERIES_ONE_DUE_STEP):
            services.escalation_sweep()

        for number in range(20):
            declare_sev1(title=f"Checkout outage in region {number}")
        due = declare_sev1()
        traveller.move_to(START + minutes(16) + minutes(16))
        Escalation.objects.exclude(incident=due).update(next_due_at=START + minutes(99))
        Escalation.objects.exclude(incident=due).update(response_due_at=START + minutes(99))
        with django_assert_num_queries(QUERIES_ONE_DUE_STEP):
            services.escalation_sweep()


def test_sweep_queries_per_due_step(on_call, django_assert_num_queries):
    with time_machine.travel(START, tick=False) as traveller:
        for number in range(3):
            declare_sev1(title=f"Checkout outage in region {number}")
        Escalation.objects.update(response_due_at=START + minutes(99))
        traveller.move_to(START + minutes(16))

        expected = QUERIES_ONE_DUE_STEP - QUERIES_MISSED_DEADLINE + 2 * QUERIES_PER_DUE_STEP
        with django_assert_num_queries(expected):
            result = services.escalation_sweep()

    assert result.pages == 3


# One sweep that records one missed deadline and pages one step of four channels: the count
# depends on what is due, never on how many incidents are open.
QUERIES_ONE_DUE_STEP = 20
# The missed deadline's escalation row and timeline entry (the entry also updates the incident).
QUERIES_MISSED_DEADLINE = 3
# Each further step due in the same sweep: its savepoints, page row, message lookup and insert,
# timeline entry and escalation row. Contacts, the person on call and contact methods are read
# once per sweep.
QUERIES_PER_DUE_STEP = 10


def test_failing_slack_page_retried_then_failed(on_call, settings):
    from notifications import services as notification_services
    from tests.http_mock import RecordingServer

    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    with RecordingServer() as slack:
        slack.respond(500, {"error": "internal"}, times=3)
        settings.SLACK_WEBHOOK_URL = f"{slack.url}/hooks/T000/B000"
        with time_machine.travel(START, tick=False) as traveller:
            incident = declare_sev1()
            message = Message.objects.get(
                dedup_key__startswith="paging:", incident=incident, channel=Channel.SLACK
            )
            for _ in range(3):
                notification_services.message_deliver(message_id=message.pk)
                message.refresh_from_db()
                if message.next_attempt_at:
                    traveller.move_to(message.next_attempt_at)
            traveller.move_to(START + minutes(15))
            services.escalation_sweep()

    assert len(slack.requests) == 3
    assert message.status == Message.Status.FAILED
    assert "HTTP 500" in message.last_error
    assert EscalationPage.objects.filter(escalation__incident=incident).count() == 2


def test_dashboard_lists_pages_awaiting_acknowledgement(client, on_call):
    from django.urls import reverse

    from incidents.services import incident_acknowledge

    incident = declare_sev1()
    primary = incident.escalation.pages.get().recipient
    client.force_login(primary)

    waiting = client.get(reverse("incidents:dashboard")).context["awaiting_acknowledgement"]
    incident_acknowledge(actor=primary, incident=incident)
    after = client.get(reverse("incidents:dashboard")).context["awaiting_acknowledgement"]

    assert list(waiting) == [incident]
    assert list(after) == []


def test_timeline_names_skipped_channels(on_call, settings):
    settings.SMS_PROVIDER_URL = ""

    incident = declare_sev2()

    entry = incident.timeline.filter(kind=TimelineEntry.Kind.SYSTEM, message__startswith="Paged")
    assert "skipped: " in entry.get().message
    assert "SMS" in entry.get().message.split("skipped: ")[1]
