from django.contrib import admin

from .models import (
    ChecklistItem,
    ChecklistTemplateItem,
    Customer,
    Incident,
    PhaseDefinition,
    ResponseRole,
    RoleAssignment,
    Service,
    Severity,
    SeverityCriterion,
    SeverityMatrixCell,
    StatusUpdate,
    StatusUpdateTemplate,
    TimelineEntry,
)
from .selectors import incident_list


class SeverityCriterionInline(admin.TabularInline):
    model = SeverityCriterion
    extra = 0
    exclude = ["policy_checksum"]


@admin.register(Severity)
class SeverityAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "name",
        "response_time",
        "first_update_within",
        "update_every",
        "postmortem_due_within",
    ]
    search_fields = ["key", "name", "definition"]
    inlines = [SeverityCriterionInline]


@admin.register(SeverityMatrixCell)
class SeverityMatrixCellAdmin(admin.ModelAdmin):
    list_display = ["impact", "urgency", "severity"]
    list_filter = ["impact", "urgency", "severity"]
    list_select_related = ["severity"]


@admin.register(SeverityCriterion)
class SeverityCriterionAdmin(admin.ModelAdmin):
    list_display = ["severity", "position", "text"]
    list_filter = ["severity"]
    search_fields = ["text"]
    list_select_related = ["severity"]


@admin.register(ResponseRole)
class ResponseRoleAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "responsibility", "on_call", "allows_multiple", "position"]
    list_editable = ["position"]


@admin.register(PhaseDefinition)
class PhaseDefinitionAdmin(admin.ModelAdmin):
    list_display = ["phase", "name", "window", "due_within"]


@admin.register(ChecklistTemplateItem)
class ChecklistTemplateItemAdmin(admin.ModelAdmin):
    list_display = ["phase", "position", "text"]
    list_filter = ["phase"]
    search_fields = ["text"]
    ordering = ["phase", "position"]


@admin.register(StatusUpdateTemplate)
class StatusUpdateTemplateAdmin(admin.ModelAdmin):
    list_display = ["status", "label"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_public"]
    list_filter = ["is_public"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "is_enterprise"]
    list_filter = ["is_enterprise"]
    search_fields = ["name"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RoleAssignmentInline(ReadOnlyInline):
    model = RoleAssignment
    fields = ["role", "user", "assigned_by", "assigned_at"]


class TimelineEntryInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ["occurred_at", "kind", "actor", "source", "message", "is_starred"]


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    fields = ["posted_at", "status", "is_public", "posted_by", "body"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Incidents are changed through the portal's pages, which record each change on the
    timeline; the admin shows them read-only."""

    list_display = ["id", "title", "severity", "phase", "declared_at", "resolved_at"]
    list_filter = ["severity", "phase", "services"]
    search_fields = ["title", "description", "channel_name"]
    list_select_related = ["severity"]
    date_hierarchy = "declared_at"
    inlines = [RoleAssignmentInline, StatusUpdateInline, TimelineEntryInline]

    def get_queryset(self, request):
        # The change page looks its object up in this queryset too, so a hidden security
        # incident gives the admin's "not found" page there as well.
        visible = incident_list(user=request.user).values("pk")
        return super().get_queryset(request).filter(pk__in=visible)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ["incident", "occurred_at", "kind", "actor", "source"]
    list_filter = ["kind", "source"]
    search_fields = ["message"]
    list_select_related = ["incident", "actor"]

    def get_queryset(self, request):
        visible = incident_list(user=request.user).values("pk")
        return super().get_queryset(request).filter(incident__in=visible)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChecklistItem)
class ChecklistItemAdmin(TimelineEntryAdmin):
    list_display = ["incident", "phase", "text", "ticked_at", "ticked_by", "skipped_at"]
    list_filter = ["phase"]
    search_fields = ["text"]
    list_select_related = ["incident", "ticked_by"]
