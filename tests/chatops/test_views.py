import datetime

import pytest
from django.utils import timezone

from chatops import services
from chatops.models import SlackRequest, SlashCommand
from incidents.models import Incident
from tests.chatops.factories import command_data, link_slack, post_signed
from tests.incidents.factories import commander_user, declare_incident, viewer_user

pytestmark = pytest.mark.django_db

SUBCOMMAND_NAMES = ["create", "status", "ack", "update", "severity", "role", "resolve", "help"]


def test_valid_create_is_queued(client):
    link_slack(commander_user(), "U0ALICE")

    response = post_signed(client, command_data('create "Checkout API returns errors" sev2'))

    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "Working on" in response.json()["text"]
    assert SlashCommand.objects.count() == 1
    assert SlackRequest.objects.count() == 1


def test_bad_signature_rejected(client):
    link_slack(commander_user(), "U0ALICE")

    response = post_signed(client, command_data('create "Down"'), secret="wrong-secret")

    assert response.status_code == 401
    assert SlackRequest.objects.count() == 0
    assert SlashCommand.objects.count() == 0


def test_missing_signature_rejected(client):
    response = client.post("/slack/commands/", data=command_data("help"))

    assert response.status_code == 401
    assert SlackRequest.objects.count() == 0


def test_stale_timestamp_rejected(client):
    link_slack(commander_user(), "U0ALICE")
    six_minutes_ago = timezone.now() - datetime.timedelta(minutes=6)

    response = post_signed(
        client, command_data('create "Down"'), timestamp=int(six_minutes_ago.timestamp())
    )

    assert response.status_code == 401
    assert "Stale" in response.json()["error"]
    assert SlackRequest.objects.count() == 0
    assert SlashCommand.objects.count() == 0


def test_replayed_request_rejected(client):
    link_slack(commander_user(), "U0ALICE")
    data = command_data('create "Down"')
    stamp = int(timezone.now().timestamp())
    post_signed(client, data, timestamp=stamp)

    replay = post_signed(client, data, timestamp=stamp)

    assert replay.status_code == 409
    assert SlackRequest.objects.count() == 1
    assert SlashCommand.objects.count() == 1


def test_unconfigured_secret_rejected(client, settings):
    settings.SLACK_SIGNING_SECRET = ""

    response = post_signed(client, command_data("help"))

    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.json()["error"]


def test_unknown_user_refused(client):
    response = post_signed(client, command_data('create "Down"', user_id="U0NOBODY"))

    assert response.status_code == 200
    assert "matches no portal user" in response.json()["text"]
    assert response.json()["response_type"] == "ephemeral"
    assert SlashCommand.objects.count() == 0
    assert Incident.objects.count() == 0


def test_missing_permission_refused(client):
    link_slack(viewer_user(), "U0ALICE")

    response = post_signed(client, command_data('create "Down"'))

    assert "lacks the permission 'incidents.declare_incident'" in response.json()["text"]
    assert SlashCommand.objects.count() == 0


def test_help_lists_every_subcommand(client):
    response = post_signed(client, command_data("help"))

    text = response.json()["text"]
    for name in SUBCOMMAND_NAMES:
        assert f"`/incident {name}" in text, name


def test_empty_text_shows_help(client):
    response = post_signed(client, command_data(""))

    assert "`/incident create" in response.json()["text"]


def test_unclosed_quote_explained(client):
    response = post_signed(client, command_data('create "Checkout is down'))

    assert "close each quoted text" in response.json()["text"]


def test_unknown_subcommand_explained(client):
    response = post_signed(client, command_data("escalate now"))

    text = response.json()["text"]
    assert "Unknown subcommand 'escalate'" in text
    assert "`/incident help`" in text


def test_status_answered_in_incident_channel(client):
    commander = commander_user()
    link_slack(commander, "U0ALICE")
    incident = declare_incident(actor=commander, commander=commander)
    channel_name = incident.channel_name.lstrip("#")

    response = post_signed(
        client, command_data("status", channel_id="C0HANDMADE", channel_name=channel_name)
    )

    text = response.json()["text"]
    assert incident.reference in text
    assert "SEV-2 Major" in text
    assert f"Incident commander: {commander.username}" in text
    assert SlashCommand.objects.count() == 0


def test_status_outside_incident_channel_explained(client):
    link_slack(commander_user(), "U0ALICE")

    response = post_signed(client, command_data("status"))

    assert "#general is not an incident channel" in response.json()["text"]


def test_prune_keeps_recent_requests(client):
    post_signed(client, command_data("help"))
    old = SlackRequest.objects.create(
        signature="v0=old",
        timestamp=int(timezone.now().timestamp()) - 3600,
        received_at=timezone.now(),
    )

    deleted = services.slack_request_prune(now=timezone.now())

    assert deleted == 1
    assert not SlackRequest.objects.filter(pk=old.pk).exists()
    assert SlackRequest.objects.count() == 1
