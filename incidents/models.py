import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from arka_portal.policy.loader import PolicyRow


class Level(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Phase(models.TextChoices):
    DETECT = "detect", "Detect"
    TRIAGE = "triage", "Triage"
    RESPOND = "respond", "Respond"
    RESOLVE = "resolve", "Resolve"
    REVIEW = "review", "Review"

    @classmethod
    def ordered(cls) -> list["Phase"]:
        return list(cls)

    def next_phase(self) -> "Phase | None":
        phases = Phase.ordered()
        index = phases.index(self)
        return phases[index + 1] if index + 1 < len(phases) else None


OPEN_PHASES = (Phase.DETECT, Phase.TRIAGE, Phase.RESPOND)


class Source(models.TextChoices):
    WEB = "web", "Web"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"
    EMAIL_LINK = "email_link", "Link in a notification"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Severity(PolicyRow):
    key = models.CharField(max_length=10, unique=True, help_text="For example SEV-1.")
    level = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most severe.")
    name = models.CharField(max_length=50)
    definition = models.CharField(max_length=200)
    response_time = models.DurationField(help_text="Time from detection to acknowledgement.")
    examples = models.CharField(max_length=200, blank=True)
    first_update_within = models.DurationField(
        null=True, blank=True, help_text="First public update after declaration; empty: optional."
    )
    update_every = models.DurationField(
        null=True, blank=True, help_text="Public update cadence until resolved; empty: as needed."
    )
    resolution_notice = models.CharField(max_length=50, blank=True)
    postmortem_due_within = models.DurationField(
        null=True, blank=True, help_text="Post-mortem deadline after resolution; empty: none."
    )
    postmortem_review_within = models.DurationField(
        null=True, blank=True, help_text="Blameless review meeting deadline; empty: none."
    )

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "severities"

    def __str__(self):
        return f"{self.key} {self.name}"


class SeverityMatrixCell(PolicyRow):
    impact = models.CharField(max_length=10, choices=Level.choices)
    urgency = models.CharField(max_length=10, choices=Level.choices)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="matrix_cell_unique"),
        ]
        verbose_name = "impact x urgency matrix cell"

    def __str__(self):
        return f"impact {self.impact} x urgency {self.urgency} -> {self.severity.key}"


class SeverityCriterion(PolicyRow):
    severity = models.ForeignKey(Severity, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["severity__level", "position"]
        constraints = [
            models.UniqueConstraint(fields=["severity", "position"], name="criterion_unique"),
        ]
        verbose_name_plural = "severity criteria"

    def __str__(self):
        return f"{self.severity.key}: {self.text}"


class ResponseRole(PolicyRow):
    INCIDENT_COMMANDER = "incident_commander"
    COMMUNICATIONS_LEAD = "communications_lead"

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    responsibility = models.CharField(max_length=200, blank=True)
    on_call = models.CharField(max_length=100, blank=True)
    allows_multiple = models.BooleanField(
        default=False, help_text="Whether an incident may have several holders of this role."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.name


class PhaseDefinition(PolicyRow):
    phase = models.CharField(max_length=10, choices=Phase.choices, unique=True)
    name = models.CharField(max_length=50)
    window = models.CharField(max_length=50, blank=True, help_text="For example 5-15 minutes.")
    due_within = models.DurationField(
        null=True,
        blank=True,
        help_text="Time after detection by which this phase's checklist should be done.",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.get_phase_display()} ({self.window})" if self.window else self.name


class ChecklistTemplateItem(PolicyRow):
    phase = models.CharField(max_length=10, choices=Phase.choices)
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["phase", "position"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "position"], name="checklist_template_unique"),
        ]

    def __str__(self):
        return f"{self.get_phase_display()}: {self.text}"


class UpdateStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class StatusUpdateTemplate(PolicyRow):
    status = models.CharField(max_length=20, choices=UpdateStatus.choices, unique=True)
    label = models.CharField(max_length=50)
    body = models.TextField(
        help_text="Placeholders: {title}, {services}, {time}, {next_update}, {cause}, "
        "{workaround}, {duration}, {root_cause}, {report_due}."
    )

    def __str__(self):
        return self.label


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    is_public = models.BooleanField(default=True, help_text="Shown on the public status page.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Customer(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_enterprise = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Incident(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField()
    impact = models.CharField(max_length=10, choices=Level.choices)
    urgency = models.CharField(max_length=10, choices=Level.choices)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    suggested_severity = models.ForeignKey(
        Severity, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    severity_reason = models.TextField(
        blank=True, help_text="Why the severity differs from the suggested one."
    )
    criteria = models.ManyToManyField(SeverityCriterion, blank=True, related_name="incidents")
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.DETECT)
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    customers = models.ManyToManyField(Customer, blank=True, related_name="incidents")
    channel_name = models.CharField(max_length=80, unique=True)

    detected_at = models.DateTimeField()
    declared_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField()
    last_public_update_at = models.DateTimeField(null=True, blank=True)
    next_update_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next public status update is due."
    )

    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-declared_at"]
        indexes = [
            models.Index(fields=["phase", "severity"]),
            models.Index(fields=["-declared_at"]),
            models.Index(
                fields=["next_update_due_at"],
                name="incident_update_due_idx",
                condition=Q(resolved_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(declared_at__gte=models.F("detected_at")),
                name="incident_declared_after_detected",
                violation_error_message="Detected time must not be after the declared time.",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("detected_at")),
                name="incident_resolved_after_detected",
                violation_error_message="Resolved time must not be before the detected time.",
            ),
        ]
        permissions = [
            ("declare_incident", "Can declare an incident"),
            ("work_incident", "Can work an incident: notes, checklists, status updates, roles"),
            ("command_incident", "Can command an incident: severity and phase changes"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def duration(self, now: datetime.datetime) -> datetime.timedelta:
        return (self.resolved_at or now) - self.detected_at

    def update_overdue_by(self, now: datetime.datetime) -> datetime.timedelta | None:
        if self.next_update_due_at is None or not self.is_open or now <= self.next_update_due_at:
            return None
        return now - self.next_update_due_at


class RoleAssignment(models.Model):
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.ForeignKey(ResponseRole, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["role__position", "assigned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role", "user"], name="role_assignment_unique"
            ),
        ]

    def __str__(self):
        return f"{self.role} on {self.incident.reference}: {self.user}"


class ChecklistItem(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklist_items")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    ticked_at = models.DateTimeField(null=True, blank=True)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    evidence = models.CharField(
        max_length=200, blank=True, help_text="What showed the item as done, for system ticks."
    )
    skipped_at = models.DateTimeField(
        null=True, blank=True, help_text="When the incident left this phase with the item unticked."
    )

    class Meta:
        ordering = ["incident", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "phase", "position"], name="checklist_item_unique"
            ),
        ]

    def __str__(self):
        return self.text

    @property
    def is_ticked(self) -> bool:
        return self.ticked_at is not None


class TimelineEntry(models.Model):
    class Kind(models.TextChoices):
        DECLARED = "declared", "Declared"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        ROLE_ASSIGNED = "role_assigned", "Role assigned"
        ROLE_UNASSIGNED = "role_unassigned", "Role unassigned"
        CHECKLIST_TICKED = "checklist_ticked", "Checklist item ticked"
        CHECKLIST_UNTICKED = "checklist_unticked", "Checklist item unticked"
        PHASE_CHANGED = "phase_changed", "Phase changed"
        UPDATE_POSTED = "update_posted", "Status update posted"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        MITIGATED = "mitigated", "Mitigated"
        RESOLVED = "resolved", "Resolved"
        NOTE = "note", "Note"
        SYSTEM = "system", "System"

    # Entries a reader may fold away to see what people did.
    SYSTEM_KINDS = (Kind.CHECKLIST_TICKED, Kind.CHECKLIST_UNTICKED, Kind.SYSTEM)

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WEB)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField(help_text="When it happened; a late note may be back-dated.")
    recorded_at = models.DateTimeField()
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    is_starred = models.BooleanField(default=False, help_text="Feeds the post-mortem timeline.")

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["incident", "occurred_at"])]
        verbose_name_plural = "timeline entries"

    def __str__(self):
        return f"{self.incident.reference} {self.get_kind_display()}: {self.message[:60]}"

    @property
    def is_system(self) -> bool:
        return self.kind in self.SYSTEM_KINDS or self.actor_id is None


class StatusUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    status = models.CharField(max_length=20, choices=UpdateStatus.choices)
    body = models.TextField()
    is_public = models.BooleanField(help_text="Public updates appear on the status page.")
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WEB)

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["incident", "is_public", "-posted_at"])]

    def __str__(self):
        visibility = "public" if self.is_public else "internal"
        return f"{self.incident.reference} {self.get_status_display()} ({visibility})"
