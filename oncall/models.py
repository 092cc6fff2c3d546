import datetime
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from timezone_field import TimeZoneField

from arka_portal.policy.loader import PolicyRow

FEED_TOKEN_BYTES = 32
# Shorter shifts would let two handoffs fall inside one DST jump, where wall time is ambiguous.
MINIMUM_SHIFT_LENGTH = datetime.timedelta(hours=1)


def feed_token_new() -> str:
    return secrets.token_urlsafe(FEED_TOKEN_BYTES)


class Weekday(models.IntegerChoices):
    """Days numbered as Python's date.weekday() numbers them."""

    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = TimeZoneField(default="UTC", help_text="Every page shows times in this zone.")
    feed_token = models.CharField(
        max_length=64,
        blank=True,
        help_text="Secret part of this person's calendar feed address; empty until first used.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Profile of {self.user}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return self.time_zone


class OnCallLayer(PolicyRow):
    """A level of the on-call ladder (primary, secondary, management) and its rotation defaults."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    MANAGEMENT = "management"

    key = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0)
    shift_length = models.DurationField(help_text="Default shift length of its rotations.")
    handoff_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    handoff_time = models.TimeField(help_text="Wall-clock time of the handoff in the time zone.")
    time_zone = TimeZoneField(default="UTC")
    offset = models.DurationField(
        default=datetime.timedelta(0),
        help_text="How much later than the handoff weekday and time its rotations hand off.",
    )
    escalation_timeout = models.DurationField(
        null=True, blank=True, help_text="Time to acknowledge before escalating; empty: none."
    )
    engaged_severities = models.JSONField(
        default=list,
        blank=True,
        help_text='Severity keys this layer is paged for, for example ["SEV-1", "SEV-2"].',
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "on-call layer"

    def __str__(self):
        return self.name

    def clean(self):
        from incidents.models import Severity

        keys = self.engaged_severities
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise ValidationError({"engaged_severities": "Enter a list of severity keys."})
        unknown = sorted(set(keys) - set(Severity.objects.values_list("key", flat=True)))
        if unknown:
            raise ValidationError(
                {"engaged_severities": f"Unknown severity keys: {', '.join(unknown)}."}
            )

    def is_engaged_for(self, severity_key: str) -> bool:
        return severity_key in self.engaged_severities


class Rotation(models.Model):
    """People taking turns on one layer: shift k starts at the k-th handoff, in local wall time.

    Empty timing fields are filled from the layer's defaults when the rotation is validated.
    """

    name = models.CharField(max_length=100, unique=True)
    layer = models.ForeignKey(OnCallLayer, on_delete=models.PROTECT, related_name="rotations")
    position = models.PositiveSmallIntegerField(
        default=0,
        help_text="Among active rotations of a layer, the lowest position is asked first.",
    )
    is_active = models.BooleanField(default=True)
    shift_length = models.DurationField(blank=True, help_text="Empty: the layer's shift length.")
    handoff_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, blank=True, help_text="Empty: the layer's handoff weekday."
    )
    handoff_time = models.TimeField(
        blank=True, help_text="Wall-clock time in the rotation's zone. Empty: the layer's."
    )
    time_zone = TimeZoneField(
        blank=True, help_text="Handoffs keep their wall-clock time here across DST changes."
    )
    offset = models.DurationField(
        blank=True, help_text="Added to every handoff, in wall-clock time. Empty: the layer's."
    )
    start_date = models.DateField(
        help_text="The first handoff is the first handoff weekday on or after this date, "
        "plus the offset."
    )
    feed_token = models.CharField(
        max_length=64, default=feed_token_new, editable=False, help_text="Calendar feed secret."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["layer__position", "position", "name"]
        permissions = [("rotate_feed_token", "Can replace a rotation's calendar feed address")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("oncall:rotation_schedule", args=[self.pk])

    def clean(self):
        if self.layer_id is not None:
            layer = self.layer
            for name in ("shift_length", "handoff_weekday", "handoff_time", "offset"):
                if getattr(self, name) is None:
                    setattr(self, name, getattr(layer, name))
            if not self.time_zone:
                self.time_zone = layer.time_zone
        if self.shift_length is not None and self.shift_length < MINIMUM_SHIFT_LENGTH:
            raise ValidationError({"shift_length": "A shift must last at least one hour."})
        if self.offset is not None and self.offset < datetime.timedelta(0):
            raise ValidationError({"offset": "The offset must not be negative."})

    @property
    def first_handoff_wall(self) -> datetime.datetime:
        """Naive wall-clock time of the first handoff in the rotation's zone."""
        days_ahead = (self.handoff_weekday - self.start_date.weekday()) % 7
        day = self.start_date + datetime.timedelta(days=days_ahead)
        return datetime.datetime.combine(day, self.handoff_time) + self.offset

    def handoff_at(self, index: int) -> datetime.datetime:
        """Return the UTC instant of handoff number `index` (0 is the first)."""
        wall = self.first_handoff_wall + index * self.shift_length
        # A wall time skipped by a DST change is read with the offset before the change
        # (fold=0), so a 02:30 handoff on the spring-forward night happens at 03:30 local.
        return wall.replace(tzinfo=self.time_zone).astimezone(datetime.UTC)


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rotation_memberships"
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Members take shifts in ascending position."
    )

    class Meta:
        ordering = ["rotation", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "user"], name="rotation_member_unique"),
        ]

    def __str__(self):
        return f"{self.user} in {self.rotation}"


class Override(models.Model):
    """One person covers a rotation for a time range; where overrides overlap, the newest wins."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="on_call_overrides"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rotation", "start", "id"]
        indexes = [models.Index(fields=["rotation", "end", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")),
                name="override_ends_after_start",
                violation_error_message="The override must end after it starts.",
            ),
        ]

    def __str__(self):
        return f"{self.user} covers {self.rotation} from {self.start:%Y-%m-%d %H:%M} UTC"


class ShiftNoticeRule(PolicyRow):
    """When people hear about their shifts: at the handoff (lead time 0) or some time before."""

    key = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    lead_time = models.DurationField(
        help_text="How long before the shift starts the notice is sent; 0 means at the handoff."
    )
    tells_outgoing = models.BooleanField(
        default=False, help_text="Also tell the person whose shift ends at the handoff."
    )
    channels = models.JSONField(
        default=list, help_text='Channels to send on, for example ["email", "slack"].'
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["lead_time", "key"]

    def __str__(self):
        return self.name

    def clean(self):
        from notifications.models import Channel

        channels = self.channels
        if not isinstance(channels, list) or not set(channels) <= set(Channel.values):
            raise ValidationError(
                {"channels": f"Enter a list of channels from: {', '.join(Channel.values)}."}
            )


class ShiftNotice(models.Model):
    """A notice sent about one shift start; inserted before queuing so each is sent once."""

    class Role(models.TextChoices):
        INCOMING = "incoming", "Incoming"
        OUTGOING = "outgoing", "Outgoing"

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shift_start = models.DateTimeField(help_text="Start of the incoming shift (the handoff).")
    rule = models.ForeignKey(ShiftNoticeRule, on_delete=models.CASCADE, related_name="notices")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-shift_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "user", "shift_start", "rule", "role"],
                name="shift_notice_once",
            ),
        ]

    def __str__(self):
        return f"{self.rule} to {self.user} ({self.role}) for {self.shift_start:%Y-%m-%d %H:%M} UTC"
