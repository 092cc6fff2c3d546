import pytest

from chatops import commands
from chatops.commands import CommandError, command_parse
from chatops.models import SlashCommand
from chatops.tasks import slash_command_run_task
from incidents import services as incident_services
from incidents.models import (
    Incident,
    Phase,
    ResponseRole,
    RoleAssignment,
    Source,
    StatusUpdate,
    TimelineEntry,
)
from notifications.models import Channel, ContactMethod
from tests.chatops.factories import command_data, link_slack, post_signed
from tests.incidents.factories import (
    UserFactory,
    commander_user,
    declare_incident,
    responder_user,
)

pytestmark = pytest.mark.django_db


def _run(client, slack_api, text: str, **overrides) -> dict:
    """Send a signed command, run the queued task as a worker would, return Slack's reply."""
    overrides.setdefault("response_url", slack_api.response_url)
    response = post_signed(client, command_data(text, **overrides))
    assert response.status_code == 200
    command = SlashCommand.objects.order_by("-id").first()
    if command is None or command.status != SlashCommand.Status.PENDING:
        return response.json()
    slash_command_run_task(command.pk)
    return slack_api.replies()[-1]


@pytest.fixture
def alice():
    user = commander_user(username="alice")
    link_slack(user, "U0ALICE")
    return user


@pytest.fixture
def incident(alice):
    return declare_incident(actor=alice, commander=alice)


def _in_channel(incident) -> dict:
    return {"channel_id": "C0HANDMADE", "channel_name": incident.channel_name.lstrip("#")}


def test_create_replies_with_link_and_channel(client, slack_api, alice):
    reply = _run(client, slack_api, 'create "Checkout API returns errors" sev2')

    incident = Incident.objects.get()
    assert reply["response_type"] == "in_channel"
    assert f"<http://testserver/incidents/{incident.pk}/|{incident.reference}>" in reply["text"]
    assert incident.channel_name in reply["text"]
    assert incident.title == "Checkout API returns errors"


def test_create_with_severity_records_reason(client, slack_api, alice):
    _run(client, slack_api, 'create "Checkout API returns errors" sev1')

    incident = Incident.objects.get()
    assert incident.severity.key == "SEV-1"
    assert incident.severity_reason == "set from Slack"


def test_create_without_severity_says_suggestion(client, slack_api, alice):
    reply = _run(client, slack_api, 'create "Checkout API returns errors"')

    incident = Incident.objects.get()
    assert incident.severity.key == "SEV-3"
    assert "SEV-3 was suggested from impact medium x urgency medium" in reply["text"]


def test_create_writes_slack_timeline_entry(client, slack_api, alice):
    _run(client, slack_api, 'create "Checkout API returns errors" sev2')

    entry = TimelineEntry.objects.get(kind=TimelineEntry.Kind.DECLARED)
    assert entry.source == Source.SLACK
    assert entry.actor == alice


def test_create_queues_same_notifications_as_web(client, slack_api, alice):
    _run(client, slack_api, 'create "Checkout API returns errors" sev2')
    from_slack = Incident.objects.get()
    from_web = declare_incident(actor=alice, title="Web", commander=alice)

    slack_kinds = sorted(from_slack.timeline.values_list("kind", flat=True))
    web_kinds = sorted(from_web.timeline.values_list("kind", flat=True))
    assert slack_kinds == web_kinds
    assert from_slack.channel_operations.count() == from_web.channel_operations.count()


def test_unknown_user_refused_after_lookup(client, slack_api):
    slack_api.members["U0STRANGER"] = "stranger@elsewhere.example"

    reply = _run(client, slack_api, 'create "Down"', user_id="U0STRANGER")

    assert "matches no portal user" in reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert Incident.objects.count() == 0


def test_user_matched_by_email_is_linked(client, slack_api):
    bob = commander_user(username="bob", email="Bob@Example.com")
    slack_api.members["U0BOB"] = "bob@example.com"

    _run(client, slack_api, 'create "Down" sev3', user_id="U0BOB")

    assert Incident.objects.get().declared_by == bob
    assert ContactMethod.objects.filter(user=bob, channel=Channel.SLACK, address="U0BOB").exists()


def test_permission_checked_again_in_worker(client, slack_api):
    slack_api.members["U0VIEW"] = "viewer@example.com"
    UserFactory(username="viewer", email="viewer@example.com", groups=["Viewers"])

    reply = _run(client, slack_api, 'create "Down" sev3', user_id="U0VIEW")

    assert "lacks the permission 'incidents.declare_incident'" in reply["text"]
    assert Incident.objects.count() == 0


def test_ack_acknowledges_from_slack(client, slack_api, incident):
    reply = _run(client, slack_api, "ack", **_in_channel(incident))

    incident.refresh_from_db()
    entry = incident.timeline.get(kind=TimelineEntry.Kind.ACKNOWLEDGED)
    assert incident.acknowledged_at is not None
    assert entry.source == Source.SLACK
    assert "acknowledged" in reply["text"]


def test_update_public_posts_public_update(client, slack_api, incident):
    _run(client, slack_api, 'update "Rolled back the deploy" --public', **_in_channel(incident))

    update = StatusUpdate.objects.get(incident=incident)
    assert update.is_public is True
    assert update.body == "Rolled back the deploy"
    assert update.source == Source.SLACK


def test_update_without_flag_is_internal(client, slack_api, incident):
    _run(client, slack_api, 'update "Looking at the database"', **_in_channel(incident))

    assert StatusUpdate.objects.get(incident=incident).is_public is False


def test_severity_change_records_reason(client, slack_api, incident):
    _run(client, slack_api, 'severity sev1 "All customers affected"', **_in_channel(incident))

    incident.refresh_from_db()
    entry = incident.timeline.get(kind=TimelineEntry.Kind.SEVERITY_CHANGED)
    assert incident.severity.key == "SEV-1"
    assert incident.severity_reason == "All customers affected"
    assert entry.source == Source.SLACK


def test_severity_without_reason_changes_nothing(client, slack_api, incident):
    reply = _run(client, slack_api, "severity sev1", **_in_channel(incident))

    incident.refresh_from_db()
    assert incident.severity.key == "SEV-2"
    assert "Usage: `/incident severity sevN" in reply["text"]


def test_role_assigns_mentioned_user(client, slack_api, incident):
    maria = responder_user(username="maria")
    link_slack(maria, "U0MARIA")

    _run(client, slack_api, "role comms <@U0MARIA|maria>", **_in_channel(incident))

    assignment = RoleAssignment.objects.get(
        incident=incident, role__key=ResponseRole.COMMUNICATIONS_LEAD
    )
    assert assignment.user == maria


def test_role_for_unknown_mention_changes_nothing(client, slack_api, incident):
    reply = _run(client, slack_api, "role tech <@U0GHOST|ghost>", **_in_channel(incident))

    assert "no portal account" in reply["text"]
    assert not RoleAssignment.objects.filter(incident=incident, role__key="technical_lead")


def test_responder_cannot_change_severity(client, slack_api, incident):
    link_slack(responder_user(username="rita"), "U0RITA")

    reply = _run(
        client, slack_api, 'severity sev1 "Worse"', user_id="U0RITA", **_in_channel(incident)
    )

    incident.refresh_from_db()
    assert "lacks the permission 'incidents.command_incident'" in reply["text"]
    assert incident.severity.key == "SEV-2"


def test_resolve_asks_to_confirm_skip(client, slack_api, alice, incident):
    for phase in (Phase.TRIAGE, Phase.RESPOND):
        incident_services.incident_phase_change(
            actor=alice, incident=incident, phase=phase, confirm_skip=True
        )

    reply = _run(client, slack_api, "resolve", **_in_channel(incident))

    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert "/incident resolve --confirm-skip" in reply["text"]


def test_resolve_with_confirm_skip_resolves(client, slack_api, alice, incident):
    for phase in (Phase.TRIAGE, Phase.RESPOND):
        incident_services.incident_phase_change(
            actor=alice, incident=incident, phase=phase, confirm_skip=True
        )

    _run(client, slack_api, "resolve --confirm-skip", **_in_channel(incident))

    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert incident.timeline.get(kind=TimelineEntry.Kind.RESOLVED).source == Source.SLACK


def test_task_runs_command_once(client, slack_api, alice):
    post_signed(client, command_data('create "Down" sev3', response_url=slack_api.response_url))
    command = SlashCommand.objects.get()

    slash_command_run_task(command.pk)
    slash_command_run_task(command.pk)

    assert Incident.objects.count() == 1
    assert len(slack_api.replies()) == 1


def test_parse_reads_typographic_quotes():
    parsed = command_parse("create “Checkout is down” sev2")

    assert parsed.arguments == ["Checkout is down", "sev2"]


def test_parse_rejects_unknown_flag():
    with pytest.raises(CommandError, match="Unknown option --loud"):
        command_parse('update "text" --loud')


def test_parse_rejects_unknown_role():
    with pytest.raises(CommandError, match="Usage: `/incident role"):
        command_parse("role boss @maria")


def test_help_has_example_for_each_subcommand():
    text = commands.help_text()

    for subcommand in commands.SUBCOMMANDS.values():
        assert subcommand.example in text, subcommand.name


def test_status_of_security_incident_hidden_from_outsider(client, slack_api, alice):
    from tests.security.factories import mark_security_incident

    record = mark_security_incident()
    incident = record.incident

    reply = _run(client, slack_api, "status", **_in_channel(incident))

    assert "is not an incident channel" in reply["text"]
    assert incident.title not in reply["text"]
