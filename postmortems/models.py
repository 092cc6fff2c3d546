import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from timezone_field import TimeZoneField

from arka_portal.policy.loader import PolicyRow
from incidents.models import Incident, TimelineEntry


class TemplateSection(PolicyRow):
    """One section of the policy's post-mortem template, in the template's order."""

    class Key(models.TextChoices):
        EXECUTIVE_SUMMARY = "executive_summary", "Executive summary"
        TIMELINE = "timeline", "Timeline"
        IMPACT = "impact", "Impact"
        ROOT_CAUSE = "root_cause", "Root cause"
        CONTRIBUTING_FACTORS = "contributing_factors", "Contributing factors"
        WHAT_WENT_WELL = "what_went_well", "What went well"
        WHAT_WENT_POORLY = "what_went_poorly", "What went poorly"
        ACTION_ITEMS = "action_items", "Action items"
        LESSONS_LEARNED = "lessons_learned", "Lessons learned"

    key = models.CharField(max_length=30, choices=Key.choices, unique=True)
    heading = models.CharField(max_length=100)
    prompt = models.CharField(max_length=200, blank=True, help_text="Shown in an empty section.")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.heading


class ActionItemPriority(PolicyRow):
    key = models.CharField(max_length=10, unique=True, help_text="For example P1.")
    level = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most urgent.")

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "action item priorities"

    def __str__(self):
        return self.key


class TrackingCadence(PolicyRow):
    """How often action items are looked at, and what each look covers."""

    class Key(models.TextChoices):
        WEEKLY_REVIEW = "weekly_review", "Weekly review"
        MONTHLY_SUMMARY = "monthly_summary", "Monthly summary"
        QUARTERLY_ANALYSIS = "quarterly_analysis", "Quarterly analysis"

    key = models.CharField(max_length=30, choices=Key.choices, unique=True)
    covers = models.CharField(max_length=100)

    def __str__(self):
        return f"{self.get_key_display()}: {self.covers}"


class PostmortemSettings(PolicyRow):
    """The post-mortem and review timing that is not per severity; a single row."""

    reminder_before = models.DurationField(
        help_text="Remind the author once when the post-mortem is due within this time."
    )
    review_weekday = models.PositiveSmallIntegerField(
        help_text="Weekday of the weekly review, 0 = Monday. The run time itself is the "
        "django-celery-beat crontab of postmortems.weekly_review_task."
    )
    review_time = models.TimeField(help_text="Local time of the weekly review.")
    review_time_zone = TimeZoneField(
        default="UTC", help_text="Zone in which a review week runs from Monday to Sunday."
    )

    class Meta:
        verbose_name_plural = "post-mortem settings"

    def __str__(self):
        return "Post-mortem settings"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_teams"
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Postmortem(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="From the severity's deadline; empty: no deadline."
    )
    review_due_at = models.DateTimeField(
        null=True, blank=True, help_text="Blameless review meeting deadline; empty: none."
    )
    review_meeting_at = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_postmortems",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="reviewed_postmortems"
    )

    executive_summary = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True, help_text="One factor per line.")
    what_went_well = models.TextField(blank=True, help_text="One point per line.")
    what_went_poorly = models.TextField(blank=True, help_text="One point per line.")
    lessons_learned = models.TextField(blank=True)
    customer_summary = models.TextField(
        blank=True, help_text="Customer-facing summary, without internal names."
    )

    customers_affected = models.CharField(max_length=100, blank=True, help_text="Number or %.")
    requests_failed = models.CharField(max_length=100, blank=True)
    impact_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    financial_impact = models.CharField(max_length=200, blank=True)
    sla_impact = models.CharField(max_length=200, blank=True, help_text="Credit implications.")

    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="postmortem_unpublished_due_idx",
                condition=~Q(state="published"),
            ),
        ]
        permissions = [
            ("write_postmortem", "Can write post-mortems and their action items"),
            ("manage_action_items", "Can manage action items of others and run the weekly review"),
        ]

    def __str__(self):
        return f"Post-mortem of {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("postmortems:detail", args=[self.pk])

    def is_overdue(self, now: datetime.datetime) -> bool:
        """Return whether the post-mortem is late: still not sent to review after due_at."""
        return self.due_at is not None and self.submitted_at is None and now > self.due_at


class PostmortemTimelineEntry(models.Model):
    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField()
    event = models.CharField(max_length=300)
    source_entry = models.ForeignKey(
        TimelineEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "post-mortem timeline entries"

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.event}"


class PostmortemReminder(models.Model):
    """A deadline reminder to the author, recorded with its outbox message so each goes once."""

    class Kind(models.TextChoices):
        DUE_SOON = "due_soon", "Due soon"
        OVERDUE = "overdue", "Overdue"

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField(help_text="The deadline this reminder is about.")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    message = models.ForeignKey(
        "notifications.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "kind", "due_at"], name="postmortem_reminder_once"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} reminder for {self.postmortem}"


class ActionItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, null=True, blank=True, related_name="action_items"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items"
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="action_items",
        help_text="Empty: the owner's first team.",
    )
    priority = models.ForeignKey(ActionItemPriority, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    wont_do_reason = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When done or won't do.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_date", "priority__level", "id"]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["owner", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="wont_do") | ~Q(wont_do_reason=""),
                name="action_item_wont_do_has_reason",
                violation_error_message="Say why the action item won't be done.",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(status__in=["done", "wont_do"]),
                name="action_item_closed_at_only_when_closed",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def overdue_days(self, today: datetime.date) -> int:
        """Days past the due date while open; 0 when on time or closed."""
        if not self.is_open or today <= self.due_date:
            return 0
        return (today - self.due_date).days


class ActionItemChange(models.Model):
    """One entry of an action item's history: a changed field, a comment, or both."""

    item = models.ForeignKey(ActionItem, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()
    changes = models.JSONField(
        default=dict, blank=True, help_text="Field name -> [old value, new value], as text."
    )
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self):
        return f"{self.item} changed at {self.changed_at:%Y-%m-%d %H:%M}"


class WeeklyReview(models.Model):
    """The review of open action items for one week, identified by the week's Monday."""

    week_start = models.DateField(unique=True, help_text="Monday of the review week.")
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-week_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(week_start__week_day=2), name="weekly_review_starts_monday"
            ),
        ]

    def __str__(self):
        return f"Weekly review of {self.week_start:%Y-%m-%d}"

    def get_absolute_url(self):
        return reverse("postmortems:review_detail", args=[self.week_start.isoformat()])


class WeeklyReviewItem(models.Model):
    """An action item as it stood when the weekly review started."""

    review = models.ForeignKey(WeeklyReview, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey(ActionItem, on_delete=models.CASCADE, related_name="+")
    was_overdue = models.BooleanField()

    class Meta:
        ordering = ["-was_overdue", "item__due_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "item"], name="weekly_review_item_once"),
        ]

    def __str__(self):
        return f"{self.review}: {self.item}"


class ReviewDigest(models.Model):
    """The weekly digest to one recipient, queued in the notifications outbox once."""

    review = models.ForeignKey(WeeklyReview, on_delete=models.CASCADE, related_name="digests")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        "notifications.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "recipient"], name="review_digest_once"),
        ]

    def __str__(self):
        return f"Digest of {self.review} to {self.recipient}"
