"""Admin pages for on-call data. Edits that can move shifts tell the people whose shifts moved,
through the same helper the services use."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from notifications.models import ContactMethod

from . import services
from .models import (
    OnCallLayer,
    Override,
    Profile,
    Rotation,
    RotationMember,
    ShiftNotice,
    ShiftNoticeRule,
)


def _shifts_before(request, rotations):
    """Store the future shifts of these rotations on the request, before the admin saves."""
    request._oncall_shifts_before = services.future_shifts_get(rotations=rotations)
    request._oncall_rotations = rotations


def _shifts_after(request, extra_rotations=()):
    rotations = [*request._oncall_rotations, *extra_rotations]
    after = services.future_shifts_get(rotations=rotations)
    services.shift_changes_notify(before=request._oncall_shifts_before, after=after)


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1
    fields = ["position", "user"]
    ordering = ["position", "id"]
    autocomplete_fields = ["user"]


@admin.register(OnCallLayer)
class OnCallLayerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "key",
        "shift_length",
        "handoff_weekday",
        "handoff_time",
        "time_zone",
        "offset",
        "engaged_severities",
    ]
    exclude = ["policy_checksum"]


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "layer", "position", "is_active", "handoff_weekday", "time_zone"]
    list_filter = ["layer", "is_active"]
    list_select_related = ["layer"]
    search_fields = ["name"]
    inlines = [RotationMemberInline]
    fieldsets = [
        (None, {"fields": ["name", "layer", "position", "is_active"]}),
        (
            "Timing (empty fields take the layer's defaults)",
            {
                "fields": [
                    "start_date",
                    "shift_length",
                    "handoff_weekday",
                    "handoff_time",
                    "time_zone",
                    "offset",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        # The database still contains the old rotation and members here, because inlines save later.
        _shifts_before(request, [obj] if change else [])
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _shifts_after(request, [] if change else [form.instance])

    def delete_model(self, request, obj):
        with services.shift_changes_notified(rotations=[obj]):
            super().delete_model(request, obj)


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["rotation", "user", "start", "end", "reason", "created_by", "created_at"]
    list_filter = ["rotation"]
    list_select_related = ["rotation", "user", "created_by"]
    search_fields = ["user__username", "reason"]
    autocomplete_fields = ["user"]
    date_hierarchy = "start"
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        rotations = [obj.rotation]
        if change and "rotation" in form.changed_data:
            rotations.append(Override.objects.get(pk=obj.pk).rotation)
        with services.shift_changes_notified(rotations=rotations):
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        with services.shift_changes_notified(rotations=[obj.rotation]):
            super().delete_model(request, obj)


class ContactMethodInline(admin.TabularInline):
    model = ContactMethod
    fk_name = "user"
    extra = 0
    fields = ["position", "channel", "address"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user"]
    exclude = ["feed_token"]
    autocomplete_fields = ["user"]


@admin.register(ShiftNoticeRule)
class ShiftNoticeRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "lead_time", "tells_outgoing", "channels", "is_active"]
    exclude = ["policy_checksum"]


@admin.register(ShiftNotice)
class ShiftNoticeAdmin(admin.ModelAdmin):
    list_display = ["shift_start", "rotation", "user", "rule", "role", "created_at"]
    list_filter = ["rule", "role", "rotation"]
    list_select_related = ["rotation", "user", "rule"]
    readonly_fields = [field.name for field in ShiftNotice._meta.fields]

    def has_add_permission(self, request):
        return False


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    exclude = ["feed_token"]


User = get_user_model()
# People are edited in one place: the user page shows their profile and contact methods too.
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [*BaseUserAdmin.inlines, ProfileInline, ContactMethodInline]
