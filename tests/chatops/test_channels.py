import datetime
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from chatops import services
from chatops.models import ChannelOperation, IncidentChannel
from chatops.tasks import channel_operation_run_task, channel_operation_sweep_task
from incidents import services as incident_services
from incidents.models import ResponseRole, TimelineEntry, UpdateStatus
from tests.chatops.factories import link_slack, run_due_operations
from tests.incidents.factories import commander_user, declare_incident, responder_user

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)
CREATE = "/api/conversations.create"


@pytest.fixture
def alice():
    user = commander_user(username="alice", first_name="Alice", last_name="Archer")
    link_slack(user, "U0ALICE")
    return user


def _declare(alice, **kwargs):
    return declare_incident(actor=alice, commander=alice, **kwargs)


def _create_operation(incident) -> ChannelOperation:
    return incident.channel_operations.get(kind=ChannelOperation.Kind.CREATE)


def test_channel_created_with_incident_name(slack_api, alice):
    incident = _declare(alice, title="Checkout API returns errors")

    run_due_operations()

    channel = IncidentChannel.objects.get(incident=incident)
    assert slack_api.calls("conversations.create")[0]["name"] == incident.channel_name[1:]
    assert channel.name == incident.channel_name[1:]
    assert channel.channel_id == "C0INC1"


def test_role_holders_invited(slack_api, alice):
    incident = _declare(alice)
    maria = responder_user(username="maria")
    link_slack(maria, "U0MARIA")
    role = ResponseRole.objects.get(key=ResponseRole.COMMUNICATIONS_LEAD)
    incident_services.incident_role_assign(actor=alice, incident=incident, role=role, user=maria)

    run_due_operations()

    invited = {call["users"] for call in slack_api.calls("conversations.invite")}
    assert invited == {"U0ALICE", "U0MARIA"}
    assert {call["channel"] for call in slack_api.calls("conversations.invite")} == {"C0INC1"}


def test_role_holder_found_by_email(slack_api):
    bob = commander_user(username="bob", email="bob@example.com")
    slack_api.members["U0BOB"] = "bob@example.com"
    incident = declare_incident(actor=bob, commander=bob)

    run_due_operations()

    assert slack_api.calls("conversations.invite")[0]["users"] == "U0BOB"
    invite = incident.channel_operations.get(kind=ChannelOperation.Kind.INVITE)
    assert invite.status == ChannelOperation.Status.DONE


def test_role_holder_unknown_to_slack_skipped(slack_api):
    carol = commander_user(username="carol", email="carol@example.com")
    incident = declare_incident(actor=carol, commander=carol)

    run_due_operations()

    invite = incident.channel_operations.get(kind=ChannelOperation.Kind.INVITE)
    assert invite.status == ChannelOperation.Status.SKIPPED
    assert "carol has no Slack member ID" in invite.error


def test_topic_names_severity_commander_status_page(slack_api, alice):
    _declare(alice)

    run_due_operations()

    topic = slack_api.calls("conversations.setTopic")[0]["topic"]
    assert "SEV-2 Major" in topic
    assert "IC: Alice Archer" in topic
    assert "http://testserver/status/" in topic


def test_status_update_posted_to_channel(slack_api, alice):
    incident = _declare(alice)
    incident_services.status_update_post(
        actor=alice,
        incident=incident,
        status=UpdateStatus.IDENTIFIED,
        body="Bad deploy of the payments service",
        is_public=True,
    )

    run_due_operations()

    texts = [call["text"] for call in slack_api.calls("chat.postMessage")]
    assert any("Bad deploy of the payments service" in text for text in texts)
    assert any("Public update [Identified]" in text for text in texts)


def test_role_change_posted_to_channel(slack_api, alice):
    _declare(alice)

    run_due_operations()

    texts = [call["text"] for call in slack_api.calls("chat.postMessage")]
    assert any("alice is now Incident Commander (IC)" in text for text in texts)


def test_channel_archived_on_archive_call(slack_api, alice):
    incident = _declare(alice)
    run_due_operations()

    services.incident_channel_archive(incident=incident)
    run_due_operations()

    channel = IncidentChannel.objects.get(incident=incident)
    assert slack_api.calls("conversations.archive") == [{"channel": "C0INC1"}]
    assert channel.archived_at is not None
    assert incident.timeline.filter(message__contains="archived").exists()


def test_operations_run_twice_call_slack_once(slack_api, alice):
    incident = _declare(alice)
    run_due_operations()
    services.incident_channel_archive(incident=incident)
    run_due_operations()
    calls_before = len(slack_api.requests)

    for operation in incident.channel_operations.all():
        ChannelOperation.objects.filter(pk=operation.pk).update(
            status=ChannelOperation.Status.PENDING, next_attempt_at=timezone.now()
        )
        channel_operation_run_task(operation.pk)

    create_calls = slack_api.calls("conversations.create")
    archive_calls = slack_api.calls("conversations.archive")
    assert len(create_calls) == 1
    assert len(archive_calls) == 1
    assert len(slack_api.requests) > calls_before


def test_rate_limited_create_retried_after_retry_after(slack_api, alice):
    slack_api.respond_to(CREATE, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    with time_machine.travel(START, tick=False) as traveller:
        incident = _declare(alice)
        operation = _create_operation(incident)
        channel_operation_run_task(operation.pk)
        operation.refresh_from_db()
        retry_at = operation.next_attempt_at
        early = services.channel_operation_run(operation_id=operation.pk)

        traveller.move_to(retry_at)
        channel_operation_sweep_task()
        channel_operation_run_task(operation.pk)
        operation.refresh_from_db()

    assert retry_at == START + datetime.timedelta(seconds=7)
    assert early is None
    assert operation.status == ChannelOperation.Status.DONE
    assert operation.attempts == 2
    assert len(slack_api.calls("conversations.create")) == 2


def test_rate_limit_shown_while_waiting(slack_api, alice):
    slack_api.respond_to(CREATE, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    incident = _declare(alice)

    channel_operation_run_task(_create_operation(incident).pk)

    operation = _create_operation(incident)
    assert operation.status == ChannelOperation.Status.PENDING
    assert "rate limited by Slack; retrying after 30 s" in operation.error


def test_sweep_finds_due_retry(slack_api, alice):
    slack_api.respond_to(CREATE, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    with time_machine.travel(START, tick=False) as traveller:
        incident = _declare(alice)
        operation = _create_operation(incident)
        channel_operation_run_task(operation.pk)
        not_due = services.channel_operation_due_ids(now=timezone.now())

        traveller.shift(datetime.timedelta(seconds=7))
        due = services.channel_operation_due_ids(now=timezone.now())

    assert operation.pk not in not_due
    assert operation.pk in due


def test_name_taken_resolved_with_suffix(slack_api, alice):
    slack_api.respond_to(CREATE, 200, {"ok": False, "error": "name_taken"})
    incident = _declare(alice)

    run_due_operations()

    channel = IncidentChannel.objects.get(incident=incident)
    names = [call["name"] for call in slack_api.calls("conversations.create")]
    base = incident.channel_name[1:]
    assert names == [base, f"{base}-2"]
    assert channel.name == f"{base}-2"
    assert incident.timeline.filter(message__contains=f"#{base} was taken").exists()


def test_server_error_retried_with_backoff(slack_api, alice, settings):
    settings.CHATOPS_RETRY_BASE_SECONDS = 30
    slack_api.respond_to(CREATE, 503, {"ok": False, "error": "service_unavailable"})
    with time_machine.travel(START, tick=False):
        incident = _declare(alice)
        channel_operation_run_task(_create_operation(incident).pk)

    operation = _create_operation(incident)
    assert operation.status == ChannelOperation.Status.PENDING
    assert operation.next_attempt_at == START + datetime.timedelta(seconds=30)


def test_retries_stop_at_max_attempts(slack_api, alice, settings):
    settings.CHATOPS_MAX_ATTEMPTS = 2
    slack_api.respond_to(CREATE, 429, {"ok": False}, {"Retry-After": "1"}, times=2)
    with time_machine.travel(START, tick=False) as traveller:
        incident = _declare(alice)
        operation = _create_operation(incident)
        channel_operation_run_task(operation.pk)
        traveller.shift(datetime.timedelta(seconds=1))
        channel_operation_run_task(operation.pk)

    operation.refresh_from_db()
    assert operation.status == ChannelOperation.Status.FAILED
    assert operation.attempts == 2


def test_permanent_error_fails_and_skips_dependents(slack_api, alice):
    slack_api.respond_to(
        CREATE, 200, {"ok": False, "error": "missing_scope", "needed": "channels:manage"}
    )
    incident = _declare(alice)

    run_due_operations()

    create = _create_operation(incident)
    others = incident.channel_operations.exclude(pk=create.pk)
    assert create.status == ChannelOperation.Status.FAILED
    assert "add the scope channels:manage" in create.error
    assert set(others.values_list("status", flat=True)) == {ChannelOperation.Status.SKIPPED}
    assert len(slack_api.calls("conversations.create")) == 1


def test_errors_shown_on_incident_page(client, slack_api, alice):
    slack_api.respond_to(
        CREATE, 200, {"ok": False, "error": "missing_scope", "needed": "channels:manage"}
    )
    incident = _declare(alice)
    run_due_operations()
    client.force_login(alice)

    response = client.get(incident.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert "conversations.create failed: missing_scope" in html
    assert "Failed" in html


def test_without_token_steps_skipped_and_shown(client, settings, alice):
    settings.SLACK_BOT_TOKEN = ""
    incident = _declare(alice)
    client.force_login(alice)

    response = client.get(incident.get_absolute_url())

    statuses = set(incident.channel_operations.values_list("status", flat=True))
    html = response.content.decode()
    assert statuses == {ChannelOperation.Status.SKIPPED}
    assert incident.channel_name in html
    assert "set SLACK_BOT_TOKEN" in html


def test_operation_queued_twice_stored_once(settings, alice):
    incident = _declare(alice)

    first = services.incident_channel_archive(incident=incident)
    second = services.incident_channel_archive(incident=incident)

    assert first.pk == second.pk


def test_severity_change_refreshes_topic(slack_api, alice):
    incident = _declare(alice)
    run_due_operations()
    sev1 = incident.severity.__class__.objects.get(key="SEV-1")

    incident_services.incident_severity_change(
        actor=alice, incident=incident, severity=sev1, reason="All customers affected"
    )
    run_due_operations()

    topics = [call["topic"] for call in slack_api.calls("conversations.setTopic")]
    assert "SEV-1 Critical" in topics[-1]


def test_channel_created_entry_on_timeline(slack_api, alice):
    incident = _declare(alice)

    run_due_operations()

    messages = incident.timeline.filter(kind=TimelineEntry.Kind.SYSTEM).values_list(
        "message", flat=True
    )
    assert f"Slack channel {incident.channel_name} created" in messages


def test_due_ids_take_one_query(slack_api, alice, django_assert_num_queries):
    for number in range(3):
        _declare(alice, title=f"Incident {number}")

    with django_assert_num_queries(1):
        due = services.channel_operation_due_ids(now=timezone.now())

    assert len(due) == ChannelOperation.objects.count()


@pytest.mark.postgres
def test_two_workers_create_channel_once(transactional_db, slack_api, alice):
    incident = _declare(alice)
    operation = _create_operation(incident)
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        try:
            services.channel_operation_run(operation_id=operation.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    operation.refresh_from_db()
    assert len(slack_api.calls("conversations.create")) == 1
    assert operation.status == ChannelOperation.Status.DONE
    assert operation.attempts == 1
