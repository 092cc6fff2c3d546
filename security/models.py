import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from arka_portal.policy.loader import PolicyRow
from incidents.models import Incident, Severity


class SecurityClass(PolicyRow):
    key = models.CharField(max_length=5, unique=True, help_text="For example S1.")
    description = models.CharField(max_length=200)
    examples = models.CharField(max_length=200, blank=True)
    minimum_severity = models.ForeignKey(
        Severity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="An incident of this class is at least this severe; empty: no minimum.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "security classes"

    def __str__(self):
        return f"{self.key} {self.description}"


class SecurityRole(PolicyRow):
    LEGAL_COUNSEL = "legal_counsel"
    SECURITY_LEAD = "security_lead"

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    responsibility = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.name


class ProcedureStep(PolicyRow):
    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=50)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(help_text="Steps are done in this order.")

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return f"{self.position}. {self.name}"


class Regulation(PolicyRow):
    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=50, help_text="For example GDPR.")
    timeline = models.CharField(max_length=100, help_text="The policy's wording of the deadline.")
    deadline = models.DurationField(
        null=True,
        blank=True,
        help_text="Time from awareness to the notice; 0 means immediately; empty: no fixed "
        "deadline, so no countdown or reminders.",
    )
    authority = models.CharField(max_length=200, help_text="Who must be notified.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.name


class ReminderPoint(PolicyRow):
    before = models.DurationField(
        unique=True, help_text="How long before a regulatory deadline to send a reminder."
    )

    class Meta:
        ordering = ["-before"]

    def __str__(self):
        return f"{self.before} before the deadline"


class SecurityIncident(models.Model):
    """The security side of an incident; its existence hides the incident from non-members."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="security_record"
    )
    security_class = models.ForeignKey(SecurityClass, on_delete=models.PROTECT, related_name="+")
    aware_at = models.DateTimeField(
        help_text="When the organisation became aware of the breach; regulatory deadlines "
        "count from here, not from detection."
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("mark_securityincident", "Can mark an incident as a security incident"),
            ("work_securityincident", "Can work a security incident: roles, steps, evidence"),
            ("manage_regulatoryobligation", "Can mark regulations as applicable and close them"),
        ]

    def __str__(self):
        return f"{self.incident.reference} {self.security_class.key}"


class SecurityRoleAssignment(models.Model):
    security_incident = models.ForeignKey(
        SecurityIncident, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.ForeignKey(SecurityRole, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField()

    class Meta:
        ordering = ["role__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["security_incident", "role"], name="security_role_one_holder"
            ),
        ]

    def __str__(self):
        return f"{self.role} on {self.security_incident}: {self.user}"


class ProcedureStepRecord(models.Model):
    security_incident = models.ForeignKey(
        SecurityIncident, on_delete=models.CASCADE, related_name="steps"
    )
    step = models.ForeignKey(ProcedureStep, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["security_incident", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["security_incident", "step"], name="procedure_step_record_unique"
            ),
        ]

    def __str__(self):
        return f"{self.security_incident}: {self.step}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class EvidenceItem(models.Model):
    security_incident = models.ForeignKey(
        SecurityIncident, on_delete=models.CASCADE, related_name="evidence_items"
    )
    description = models.CharField(max_length=300)
    location = models.CharField(max_length=300, help_text="Where the evidence is kept.")
    sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the evidence file, 64 hex digits."
    )
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    collected_at = models.DateTimeField()
    custody_notes = models.TextField(
        blank=True, help_text="Chain of custody: every hand-over, with who, when and why."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["security_incident", "collected_at", "id"]

    def __str__(self):
        return self.description


class RegulatoryObligation(models.Model):
    security_incident = models.ForeignKey(
        SecurityIncident, on_delete=models.CASCADE, related_name="obligations"
    )
    regulation = models.ForeignKey(Regulation, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="Awareness plus the regulation's deadline; empty: none."
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marked_at = models.DateTimeField()
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the notice was sent; set, it closes the obligation."
    )
    notice_method = models.CharField(
        max_length=200, blank=True, help_text="How the notice was sent, for example a portal form."
    )
    notice_reference = models.CharField(
        max_length=200, blank=True, help_text="Case number or message id from the authority."
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "regulation__position"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="obligation_open_due_idx",
                condition=Q(notified_at__isnull=True, due_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["security_incident", "regulation"], name="obligation_unique"
            ),
            models.CheckConstraint(
                condition=Q(notified_at__isnull=True) | ~Q(notice_method=""),
                name="obligation_notice_has_method",
                violation_error_message="Say how the notice was sent.",
            ),
        ]

    def __str__(self):
        return f"{self.regulation} for {self.security_incident}"

    @property
    def is_open(self) -> bool:
        return self.notified_at is None

    def overdue_by(self, now: datetime.datetime) -> datetime.timedelta | None:
        if self.due_at is None or not self.is_open or now < self.due_at:
            return None
        return now - self.due_at


class ObligationReminder(models.Model):
    """One reminder sent for an obligation; the unique constraint makes each point send once."""

    class Kind(models.TextChoices):
        BEFORE = "before", "Before the deadline"
        OVERDUE = "overdue", "Deadline passed"

    obligation = models.ForeignKey(
        RegulatoryObligation, on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    before = models.DurationField(
        help_text="The reminder point: time left before the deadline; 0 for the overdue reminder."
    )
    due_at = models.DateTimeField(help_text="The deadline this reminder was about.")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["obligation", "sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["obligation", "kind", "before"], name="obligation_reminder_once"
            ),
        ]

    def __str__(self):
        return f"{self.obligation}: {self.get_kind_display()} ({self.before})"
