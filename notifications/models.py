from django.conf import settings
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone call"
    PAGERDUTY = "pagerduty", "PagerDuty"


class ContactMethod(models.Model):
    """One way to reach a person; lower positions are tried first."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    address = models.CharField(
        max_length=200,
        help_text="Email address, Slack member ID, phone number in E.164 (+4930...), "
        "or PagerDuty user ID.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel", "address"], name="contact_method_unique"
            ),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.address}"


class Message(models.Model):
    """An outbound message, stored before it is sent and updated after each attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    dedup_key = models.CharField(
        max_length=255,
        unique=True,
        help_text="One message per key: queuing the same key again returns the stored message.",
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages_received",
    )
    target = models.CharField(
        max_length=255, blank=True, help_text="Address, Slack channel or phone number used."
    )
    subject = models.CharField(max_length=255)
    body = models.TextField()
    payload = models.JSONField(default=dict, blank=True, help_text="Channel-specific fields.")
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="message_due_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["incident", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.target or self.recipient}: {self.subject}"


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="delivery_attempts")
    attempted_at = models.DateTimeField()
    succeeded = models.BooleanField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["message", "attempted_at"]

    def __str__(self):
        outcome = "succeeded" if self.succeeded else f"failed: {self.error[:60]}"
        return f"Attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S} {outcome}"
