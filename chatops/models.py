from django.conf import settings
from django.db import models
from django.db.models import Q


class IncidentChannel(models.Model):
    """The Slack channel of an incident, with Slack's channel ID once it is created."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="slack_channel"
    )
    name = models.CharField(
        max_length=80,
        help_text="Channel name without '#'; differs from the incident's when it was taken.",
    )
    channel_id = models.CharField(
        max_length=20, blank=True, help_text="Slack's channel ID; empty until the channel exists."
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel_id"],
                condition=~Q(channel_id=""),
                name="incident_channel_id_unique",
            ),
        ]

    def __str__(self):
        return f"#{self.name}"


class ChannelOperation(models.Model):
    """One call to Slack's Web API for an incident channel, stored before it runs.

    Stored without a bot token too, as skipped, so the incident page shows what did not happen.
    """

    class Kind(models.TextChoices):
        CREATE = "create", "Create channel"
        INVITE = "invite", "Invite"
        SET_TOPIC = "set_topic", "Set topic"
        POST = "post", "Post message"
        ARCHIVE = "archive", "Archive channel"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="channel_operations"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    dedup_key = models.CharField(
        max_length=255,
        unique=True,
        help_text="One operation per key: queuing the same key again returns the stored one.",
    )
    summary = models.CharField(max_length=200, help_text="What the operation does, for people.")
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while a worker runs the operation."
    )
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="channel_operation_due_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for incident {self.incident_id}: {self.status}"


class SlackRequest(models.Model):
    """A signed request accepted from Slack; the unique pair rejects a replay of it."""

    signature = models.CharField(max_length=100)
    timestamp = models.BigIntegerField(help_text="X-Slack-Request-Timestamp, in Unix seconds.")
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["signature", "timestamp"], name="slack_request_unique"),
        ]
        indexes = [models.Index(fields=["received_at"])]

    def __str__(self):
        return f"Slack request at {self.timestamp}"


class SlashCommand(models.Model):
    """An accepted /incident command waiting for, or done by, a Celery worker."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    text = models.TextField(blank=True, help_text="What followed /incident.")
    slack_user_id = models.CharField(max_length=20)
    slack_user_name = models.CharField(max_length=100, blank=True)
    channel_id = models.CharField(max_length=20)
    channel_name = models.CharField(max_length=80, blank=True)
    response_url = models.URLField(max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reply = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return f"/incident {self.text[:60]} from {self.slack_user_id}"
