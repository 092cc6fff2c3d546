"""Writes of the chatops app: incident channels in Slack and the /incident command."""

from .channels import (
    channel_operation_due_ids,
    channel_operation_queue,
    channel_operation_run,
    incident_channel_archive,
    incident_channel_open,
    incident_channel_role_announce,
    incident_channel_severity_announce,
    incident_channel_topic,
    incident_channel_update_announce,
)
from .commands import (
    SlackRequestRejected,
    slack_request_prune,
    slack_request_verify,
    slash_command_prune,
    slash_command_receive,
    slash_command_run,
)
from .users import slack_member_id_get, slack_member_user_get

__all__ = [
    "SlackRequestRejected",
    "channel_operation_due_ids",
    "channel_operation_queue",
    "channel_operation_run",
    "incident_channel_archive",
    "incident_channel_open",
    "incident_channel_role_announce",
    "incident_channel_severity_announce",
    "incident_channel_topic",
    "incident_channel_update_announce",
    "slack_member_id_get",
    "slack_member_user_get",
    "slack_request_prune",
    "slack_request_verify",
    "slash_command_prune",
    "slash_command_receive",
    "slash_command_run",
]
