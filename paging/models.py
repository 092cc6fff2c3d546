import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from arka_portal.policy.loader import PolicyRow
from incidents.models import Incident, Severity
from notifications.models import Channel


class Layer(models.TextChoices):
    PRIMARY = "primary", "Primary on call"
    SECONDARY = "secondary", "Secondary on call"
    MANAGEMENT = "management", "Management on call"


class AlertRoute(PolicyRow):
    """One channel a page for an incident of this severity goes out on."""

    severity = models.ForeignKey(Severity, on_delete=models.CASCADE, related_name="alert_routes")
    position = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=20, choices=Channel.choices)
    target = models.CharField(
        max_length=100,
        blank=True,
        help_text="A Slack channel such as #alerts, posted to instead of the paged person; "
        "empty: the paged person's contact method for the channel.",
    )

    class Meta:
        ordering = ["severity__level", "position"]
        constraints = [
            models.UniqueConstraint(fields=["severity", "position"], name="alert_route_unique"),
        ]

    def __str__(self):
        where = f" {self.target}" if self.target else ""
        return f"{self.severity.key}: {self.get_channel_display()}{where}"

    @property
    def is_broadcast(self) -> bool:
        return bool(self.target)


class EscalationContact(PolicyRow):
    """A named escalation role (L1 to L5) and the person who holds it, set in the admin."""

    # Key of the L2 role in the policy's escalation contacts.
    ENGINEERING_MANAGER = "engineering_manager"

    key = models.SlugField(max_length=50, unique=True)
    level = models.CharField(max_length=5, help_text="For example L2.")
    role = models.CharField(max_length=100)
    contact_methods = models.JSONField(
        default=list, help_text='Channels used to page this role, such as ["pagerduty", "phone"].'
    )
    severities = models.JSONField(
        default=list,
        blank=True,
        help_text='Severity keys this role may be paged for, such as ["SEV-1"]; empty: all.',
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person paged for this role.",
    )

    class Meta:
        ordering = ["level"]

    def __str__(self):
        return f"{self.level} {self.role}"

    def clean(self):
        unknown = [value for value in self.contact_methods if value not in Channel.values]
        if unknown:
            raise ValidationError(
                {
                    "contact_methods": f"Unknown channels {unknown}; use any of "
                    f"{', '.join(Channel.values)}."
                }
            )

    def allows(self, severity_key: str) -> bool:
        return not self.severities or severity_key in self.severities


class EscalationPolicy(PolicyRow):
    severity = models.OneToOneField(
        Severity, on_delete=models.CASCADE, related_name="escalation_policy"
    )
    repeat_from_position = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Position of the step the policy repeats from after its last step; "
        "empty: no repeat.",
    )
    repeat_times = models.PositiveSmallIntegerField(
        default=0, help_text="How many extra rounds to run from that step."
    )
    repeat_after = models.DurationField(
        default=datetime.timedelta(0),
        help_text="Wait after the last step before a repeated round starts.",
    )

    class Meta:
        ordering = ["severity__level"]
        verbose_name_plural = "escalation policies"

    def __str__(self):
        return f"Escalation policy {self.severity.key}"

    def clean(self):
        if not self.repeat_times:
            return
        if self.repeat_from_position is None:
            raise ValidationError(
                {
                    "repeat_from_position": "Choose the step to repeat from, or set repeat times to 0."
                }
            )
        if self.repeat_after <= datetime.timedelta(0):
            raise ValidationError(
                {
                    "repeat_after": "Set a wait longer than zero, so a repeated round does not "
                    "page at once after the last step."
                }
            )
        if self.pk and not self.steps.filter(position=self.repeat_from_position).exists():
            raise ValidationError(
                {"repeat_from_position": f"No step has position {self.repeat_from_position}."}
            )


class EscalationStep(PolicyRow):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay = models.DurationField(help_text="Time after the escalation starts.")
    target_layer = models.CharField(
        max_length=20,
        choices=Layer.choices,
        blank=True,
        help_text="Rotation layer whose on-call person is paged; empty when a contact is chosen.",
    )
    target_contact = models.ForeignKey(
        EscalationContact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Escalation role whose holder is paged; empty when a layer is chosen.",
    )

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_step_unique"),
            models.CheckConstraint(
                condition=(Q(target_layer="") & Q(target_contact__isnull=False))
                | (~Q(target_layer="") & Q(target_contact__isnull=True)),
                name="escalation_step_one_target",
                violation_error_message="Choose either a rotation layer or an escalation contact.",
            ),
        ]

    def __str__(self):
        return f"{self.policy.severity.key} step {self.position}: {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.target_contact_id is not None:
            return self.target_contact.role
        return Layer(self.target_layer).label if self.target_layer else "nobody"

    def clean(self):
        contact = self.target_contact if self.target_contact_id else None
        if contact is not None and self.policy_id is not None:
            severity_key = self.policy.severity.key
            if not contact.allows(severity_key):
                raise ValidationError(
                    {
                        "target_contact": f"{contact.role} is paged only for "
                        f"{', '.join(contact.severities)}, not {severity_key}."
                    }
                )


class EscalationTrigger(PolicyRow):
    """A reason from the policy for escalating by hand."""

    NO_PROGRESS = "no_progress"

    key = models.SlugField(max_length=50, unique=True)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.text


class NoProgressThreshold(PolicyRow):
    """How long an incident of this severity may go without a person's timeline entry before
    the incident page suggests escalating."""

    severity = models.OneToOneField(
        Severity, on_delete=models.CASCADE, related_name="no_progress_threshold"
    )
    after = models.DurationField()

    class Meta:
        ordering = ["severity__level"]

    def __str__(self):
        return f"{self.severity.key}: no progress after {self.after}"


class StopReason(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    COMPLETED = "completed", "Every step paged"
    NO_POLICY = "no_policy", "No escalation policy for the severity"


class Escalation(models.Model):
    """The escalation of one incident: a copy of the policy taken when it started, and the next
    step's due time, which the beat sweep reads."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="escalation")
    severity_key = models.CharField(max_length=10, help_text="Severity whose policy is copied.")
    policy_snapshot = models.JSONField(
        default=dict, help_text="The steps, routes and repeat rule as they were at the start."
    )
    run = models.PositiveSmallIntegerField(
        default=1, help_text="Counts policy starts: a severity change starts a new run."
    )
    run_started_at = models.DateTimeField()
    next_step = models.PositiveSmallIntegerField(
        default=0, help_text="Index in the snapshot's steps of the next step to page."
    )
    next_round = models.PositiveSmallIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(
        help_text="Detection time plus the severity's response time."
    )
    response_missed_at = models.DateTimeField(
        null=True, blank=True, help_text="The deadline that passed without an acknowledgement."
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_due_at"],
                name="escalation_due_idx",
                condition=Q(stopped_at__isnull=True),
            ),
            models.Index(
                fields=["response_due_at"],
                name="escalation_response_due_idx",
                condition=Q(acknowledged_at__isnull=True, response_missed_at__isnull=True),
            ),
        ]
        permissions = [("escalate_incident", "Can escalate an incident to the next level")]

    def __str__(self):
        return f"Escalation of {self.incident.reference}"

    @property
    def steps(self) -> list[dict]:
        return self.policy_snapshot.get("steps", [])

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None


class EscalationPage(models.Model):
    """One escalation step paged once: inserted before its messages are queued, so the unique
    constraint stops a second sweep from paging the same step again."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="pages")
    run = models.PositiveSmallIntegerField()
    step = models.PositiveSmallIntegerField(help_text="Index in the run's snapshot steps.")
    round = models.PositiveSmallIntegerField(default=0)
    target_label = models.CharField(max_length=100)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    paged_at = models.DateTimeField()
    channels = models.JSONField(default=list, blank=True)
    trigger = models.ForeignKey(
        EscalationTrigger,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when a person escalated by hand.",
    )
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["escalation", "paged_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation", "run", "step", "round"], name="escalation_page_once"
            ),
        ]

    def __str__(self):
        return f"{self.escalation.incident.reference} step {self.step + 1}: {self.target_label}"
