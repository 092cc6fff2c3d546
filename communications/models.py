"""Status-update cadence, internal channels, the public status page's subscribers and the
enterprise customers' notifications. Incidents are referenced, never changed, from here."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from arka_portal.policy.loader import PolicyRow


class CommunicationPolicy(PolicyRow):
    """The portal's operating choices around the policy's communication rules (one row)."""

    DEFAULT_KEY = "arka"

    key = models.SlugField(max_length=20, unique=True, default=DEFAULT_KEY)
    reminder_before_due = models.DurationField(
        help_text="How long before a public update is due the communications lead is reminded."
    )
    reminder_channels = models.JSONField(
        default=list, help_text='Channels for cadence reminders, for example ["email", "slack"].'
    )
    status_page_history = models.DurationField(
        help_text="How long resolved incidents stay on the public status page."
    )
    component_states = models.JSONField(
        default=dict,
        help_text='Severity key -> public component state, for example {"SEV-1": "Major outage"}.',
    )

    class Meta:
        verbose_name_plural = "communication policy"

    def __str__(self):
        return f"Communication policy {self.key}"


class EnterpriseNotificationPolicy(PolicyRow):
    """When enterprise customers hear from ARKA about an incident that affects them (one row)."""

    key = models.SlugField(max_length=20, unique=True, default=CommunicationPolicy.DEFAULT_KEY)
    severity_keys = models.JSONField(
        default=list,
        help_text='Severities that notify enterprise customers, for example ["SEV-1"].',
    )
    email_within = models.DurationField(help_text="Automatic email to the contacts, from creation.")
    success_manager_call_within = models.DurationField(
        help_text="Call by the success manager, from when the incident affected the customer."
    )
    detailed_report_within = models.DurationField(
        help_text="Detailed report to the customer, from resolution."
    )

    class Meta:
        verbose_name_plural = "enterprise notification policies"

    def __str__(self):
        return f"Enterprise notification policy {self.key}"


class InternalChannel(PolicyRow):
    """A Slack channel that hears about incidents, and what the portal posts to it."""

    class Sends(models.TextChoices):
        NONE = "none", "Nothing (the responders' own channel)"
        MILESTONES = "milestones", "Milestones: declared, severity and phase changes"
        SUMMARY = "summary", "A summary at a fixed interval"
        RESOLUTION = "resolution", "A summary at resolution"

    key = models.SlugField(max_length=50, unique=True)
    audience = models.CharField(max_length=100)
    channel = models.CharField(
        max_length=100, help_text="Slack channel, for example #incidents-exec."
    )
    frequency = models.CharField(max_length=100, blank=True)
    content = models.CharField(max_length=100, blank=True)
    sends = models.CharField(max_length=20, choices=Sends.choices, default=Sends.NONE)
    every = models.DurationField(
        null=True, blank=True, help_text="Interval between summaries; only for summary channels."
    )
    severity_keys = models.JSONField(
        default=list,
        blank=True,
        help_text='Severities this channel hears about, for example ["SEV-1"]; empty: every one.',
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.audience} ({self.channel})"

    def covers(self, severity) -> bool:
        return not self.severity_keys or severity.key in self.severity_keys


class IncidentCommunication(models.Model):
    """Per-incident communication state that the beat sweeps read."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="communication"
    )
    leadership_summary_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next leadership summary is due; empty: none."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["leadership_summary_due_at"],
                name="leadership_summary_due_idx",
                condition=Q(leadership_summary_due_at__isnull=False),
            )
        ]

    def __str__(self):
        return f"Communication state of incident {self.incident_id}"


class CadenceReminder(models.Model):
    """One reminder to one person about one due time of an incident's public update.

    The row is inserted before the message is queued, so the unique constraint lets exactly one
    of several overlapping sweeps send it.
    """

    class Stage(models.TextChoices):
        DUE_SOON = "due_soon", "Due soon"
        OVERDUE = "overdue", "Overdue"
        ESCALATED = "escalated", "Escalated"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="cadence_reminders"
    )
    due_at = models.DateTimeField(help_text="The next_update_due_at this reminder is about.")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["incident", "due_at", "sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "due_at", "stage", "recipient"],
                name="cadence_reminder_once",
            )
        ]

    def __str__(self):
        return f"{self.get_stage_display()} reminder for incident {self.incident_id} to {self.recipient}"


class Subscriber(models.Model):
    """A person who receives the public status updates by email after confirming the address."""

    email = models.EmailField(unique=True)
    all_components = models.BooleanField(
        default=True, help_text="Every component, including ones added later."
    )
    components = models.ManyToManyField(
        "incidents.Service",
        blank=True,
        related_name="subscribers",
        limit_choices_to={"is_public": True},
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class CustomerContact(models.Model):
    customer = models.ForeignKey(
        "incidents.Customer", on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=100)
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "name"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "email"], name="customer_contact_unique")
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class EnterpriseAccount(models.Model):
    customer = models.OneToOneField(
        "incidents.Customer", on_delete=models.CASCADE, related_name="enterprise_account"
    )
    success_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="enterprise_accounts",
        help_text="Calls the customer when an incident affects them.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.customer} (success manager {self.success_manager})"


class EnterpriseNotice(models.Model):
    """What ARKA owes one enterprise customer for one incident, and what it has done."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="enterprise_notices"
    )
    customer = models.ForeignKey(
        "incidents.Customer", on_delete=models.CASCADE, related_name="enterprise_notices"
    )
    success_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="enterprise_notices",
    )
    email_due_at = models.DateTimeField()
    email_sent_at = models.DateTimeField(null=True, blank=True)
    call_due_at = models.DateTimeField()
    call_done_at = models.DateTimeField(null=True, blank=True)
    call_done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_email_sent_at = models.DateTimeField(null=True, blank=True)
    report_due_at = models.DateTimeField(null=True, blank=True)
    report_sent_at = models.DateTimeField(null=True, blank=True)
    report_sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["call_due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "customer"], name="enterprise_notice_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["email_due_at"],
                name="enterprise_email_pending_idx",
                condition=Q(email_sent_at__isnull=True),
            )
        ]
        permissions = [
            ("manage_customer_communication", "Can tick enterprise calls and reports as done"),
        ]

    def __str__(self):
        return f"{self.customer} about incident {self.incident_id}"
