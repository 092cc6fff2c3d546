import hashlib
import hmac

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from fast_update.query import FastUpdateManager

from arka_portal.policy.loader import PolicyRow
from incidents.models import Incident, Severity

# Django refuses to read a larger body through `request.body`, so no integration may publish more.
MAX_BODY_BYTES_CEILING = 10 * 1024 * 1024
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def token_hash(token: str) -> str:
    """Return the SHA-256 hex digest under which an integration token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def default_severity_map() -> dict:
    return {"critical": "SEV-1", "error": "SEV-2", "warning": "SEV-3", "info": "SEV-4"}


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    DATADOG = "datadog", "Datadog"
    SENTRY = "sentry", "Sentry"
    EVENTS_V2 = "events-v2", "Events API v2"
    GENERIC = "generic", "Generic JSON v1"
    CLOUDWATCH = "cloudwatch", "CloudWatch through SNS"


class MatchMode(models.TextChoices):
    NAME = "name", "By alert name"
    LABELS = "labels", "By labels"


class Integration(models.Model):
    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(
        max_length=64,
        unique=True,
        editable=False,
        help_text="SHA-256 of the secret token; the token itself is shown once, when it is set.",
    )
    token_hint = models.CharField(
        max_length=8, blank=True, editable=False, help_text="Last characters of the token."
    )
    client_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Sentry only: the integration's client secret, which signs each webhook body.",
    )
    default_severity = models.ForeignKey(
        Severity,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Severity of alerts that match no alert rule.",
    )
    severity_map = models.JSONField(
        default=default_severity_map,
        blank=True,
        help_text="Sender severity words to severity keys, for senders that send a severity.",
    )
    match_mode = models.CharField(
        max_length=10,
        choices=MatchMode.choices,
        default=MatchMode.NAME,
        help_text="How alert rules match this integration's alerts.",
    )
    grouping_key = models.CharField(
        max_length=200,
        default="service",
        help_text="Comma-separated labels that, with the rule, group alerts into one incident.",
    )
    storm_limit_per_minute = models.PositiveIntegerField(
        default=600,
        help_text="Deliveries accepted per minute before the receiver answers 503; 0: no limit.",
    )
    max_body_bytes = models.PositiveIntegerField(
        default=DEFAULT_MAX_BODY_BYTES,
        validators=[MinValueValidator(1024), MaxValueValidator(MAX_BODY_BYTES_CEILING)],
        help_text="Largest accepted request body, in bytes; larger ones get 413.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self):
        return reverse("alerts:integration_detail", args=[self.pk])

    def token_set(self, token: str) -> None:
        self.token_hash = token_hash(token)
        self.token_hint = token[-4:]

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, token_hash(token))

    def grouping_labels(self) -> list[str]:
        return [name.strip() for name in self.grouping_key.split(",") if name.strip()]


class AlertRule(PolicyRow):
    class Operator(models.TextChoices):
        BELOW = "<", "below"
        ABOVE = ">", "above"

    name = models.SlugField(max_length=100, unique=True)
    category = models.CharField(max_length=50)
    metric = models.CharField(max_length=50)
    operator = models.CharField(max_length=1, choices=Operator.choices)
    threshold = models.DecimalField(max_digits=10, decimal_places=4)
    unit = models.CharField(max_length=10, blank=True)
    duration = models.DurationField(
        null=True, blank=True, help_text="How long the condition holds; empty: at once."
    )
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="+")
    declares_incident = models.BooleanField(
        default=True, help_text="Whether a firing alert matching this rule opens an incident."
    )
    match_names = models.JSONField(
        default=list,
        blank=True,
        help_text="Alert names (such as Alertmanager's alertname) that match, case-insensitive.",
    )
    match_labels = models.JSONField(
        default=dict,
        blank=True,
        help_text="Labels an alert must all carry to match, as an object of name to value.",
    )

    class Meta:
        ordering = ["category", "name"]

    def __str__(self):
        return self.name

    @property
    def condition(self) -> str:
        threshold = self.threshold.normalize()
        text = f"{self.metric} {self.operator} {threshold:f}{self.unit}"
        if self.duration:
            text += f" for {int(self.duration.total_seconds() // 60)} min"
        return text


class Delivery(models.Model):
    """A request body accepted from a sender, stored before anything is derived from it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, related_name="deliveries"
    )
    received_at = models.DateTimeField()
    content_type = models.CharField(max_length=100)
    headers = models.JSONField(default=dict, help_text="Request headers, without credentials.")
    body = models.TextField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    notes = models.JSONField(
        default=list, blank=True, help_text="What processing skipped and why, one line each."
    )
    error = models.TextField(blank=True)

    # fast_update writes a batch's changes with one UPDATE ... FROM VALUES.
    objects = FastUpdateManager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["integration", "received_at"]),
            models.Index(
                fields=["received_at"],
                name="delivery_pending_idx",
                condition=Q(status="pending"),
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"Delivery {self.pk} to {self.integration.name}"


class RejectedDelivery(models.Model):
    """A request answered with 4xx or 503; only the reason and a body excerpt are kept."""

    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rejected_deliveries",
        help_text="Empty when the token matched no integration.",
    )
    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    received_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField()
    reason = models.TextField()
    errors = models.JSONField(default=dict, blank=True, help_text="Field path to error message.")
    body_excerpt = models.TextField(blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["integration", "-received_at"])]
        verbose_name_plural = "rejected deliveries"

    def __str__(self):
        return f"{self.status_code} at {self.received_at:%Y-%m-%d %H:%M}: {self.reason[:60]}"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Feedback(models.TextChoices):
    USEFUL = "useful", "Useful"
    NOISY = "noisy", "Noisy"


class AlertGroup(models.Model):
    """The incident that alerts of one rule and grouping-label values join while it is open.

    Processing locks this row before it declares or joins, so a storm of alerts for one service
    declares one incident.
    """

    key = models.CharField(max_length=255, unique=True)
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="groups")
    incident = models.ForeignKey(
        Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.key


class Alert(models.Model):
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alerts")
    source = models.CharField(max_length=20, choices=IntegrationKind.choices)
    identity = models.CharField(
        max_length=255, help_text="Fingerprint or dedup key from the sender, or a hash of labels."
    )
    occurrence = models.PositiveIntegerField(
        default=1, help_text="Counts firings after resolves of the same identity, from 1."
    )
    status = models.CharField(max_length=15, choices=AlertStatus.choices)
    name = models.CharField(max_length=255, blank=True, help_text="Name used to match rules.")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    service = models.CharField(max_length=100, blank=True)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    starts_at = models.DateTimeField(help_text="When the sender says the condition began.")
    ends_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    repeat_count = models.PositiveIntegerField(
        default=0, help_text="Times this occurrence was received again after the first."
    )
    group = models.ForeignKey(
        AlertGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    last_delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    feedback = models.CharField(max_length=10, choices=Feedback.choices, blank=True)
    feedback_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    feedback_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # fast_update writes a batch's changes with one UPDATE ... FROM VALUES.
    objects = FastUpdateManager()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "identity", "occurrence"], name="alert_occurrence_unique"
            ),
            models.CheckConstraint(
                condition=Q(last_seen_at__gte=models.F("first_seen_at")),
                name="alert_last_seen_after_first",
            ),
        ]
        indexes = [
            models.Index(fields=["-last_seen_at"]),
            models.Index(fields=["status", "-last_seen_at"]),
            models.Index(fields=["rule", "feedback"]),
        ]
        permissions = [("mark_alert", "Can mark alerts useful or noisy")]

    def __str__(self):
        return f"Alert {self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status != AlertStatus.RESOLVED


class SnsSubscription(models.Model):
    """An SNS topic subscription that a CloudWatch integration was asked to confirm."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="sns_subscriptions"
    )
    topic_arn = models.CharField(max_length=255)
    subscribe_url = models.URLField(max_length=2000)
    requested_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "topic_arn"], name="sns_subscription_unique"
            ),
        ]

    def __str__(self):
        return self.topic_arn
