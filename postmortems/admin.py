from django.contrib import admin

from .models import (
    ActionItem,
    ActionItemChange,
    ActionItemPriority,
    Postmortem,
    PostmortemSettings,
    PostmortemTimelineEntry,
    ReviewDigest,
    Team,
    TemplateSection,
    TrackingCadence,
    WeeklyReview,
)


@admin.register(TemplateSection)
class TemplateSectionAdmin(admin.ModelAdmin):
    list_display = ["position", "heading", "key", "prompt"]
    exclude = ["policy_checksum"]


@admin.register(ActionItemPriority)
class ActionItemPriorityAdmin(admin.ModelAdmin):
    list_display = ["key", "level"]
    exclude = ["policy_checksum"]


@admin.register(TrackingCadence)
class TrackingCadenceAdmin(admin.ModelAdmin):
    list_display = ["key", "covers"]
    exclude = ["policy_checksum"]


@admin.register(PostmortemSettings)
class PostmortemSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "reminder_before",
        "review_weekday",
        "review_time",
        "review_time_zone",
    ]
    exclude = ["policy_checksum"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["managers", "members"]


class TimelineInline(admin.TabularInline):
    model = PostmortemTimelineEntry
    extra = 0
    fields = ["occurred_at", "event"]


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    list_display = ["incident", "state", "author", "due_at", "submitted_at", "published_at"]
    list_filter = ["state"]
    list_select_related = ["incident", "author"]
    search_fields = ["incident__title"]
    raw_id_fields = ["incident", "author"]
    filter_horizontal = ["reviewers"]
    inlines = [TimelineInline]


class ActionItemChangeInline(admin.TabularInline):
    model = ActionItemChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "actor", "changes", "comment"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    """Action items are changed on the portal's pages, which record their history."""

    list_display = ["title", "owner", "team", "priority", "due_date", "status"]
    list_filter = ["status", "priority", "team"]
    list_select_related = ["owner", "team", "priority"]
    search_fields = ["title"]
    inlines = [ActionItemChangeInline]

    def has_change_permission(self, request, obj=None):
        return False


class ReviewDigestInline(admin.TabularInline):
    model = ReviewDigest
    extra = 0
    can_delete = False
    fields = ["recipient", "message", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WeeklyReview)
class WeeklyReviewAdmin(admin.ModelAdmin):
    list_display = ["week_start", "started_at", "completed_at", "completed_by"]
    inlines = [ReviewDigestInline]
    readonly_fields = ["week_start", "started_at", "completed_at", "completed_by"]
