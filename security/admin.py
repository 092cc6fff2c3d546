from django.contrib import admin

from .models import (
    EvidenceItem,
    ObligationReminder,
    ProcedureStep,
    ProcedureStepRecord,
    Regulation,
    RegulatoryObligation,
    ReminderPoint,
    SecurityClass,
    SecurityIncident,
    SecurityRole,
    SecurityRoleAssignment,
)
from .selectors import user_may_see_security


@admin.register(SecurityClass)
class SecurityClassAdmin(admin.ModelAdmin):
    list_display = ["key", "description", "examples", "minimum_severity", "position"]
    list_select_related = ["minimum_severity"]


@admin.register(SecurityRole)
class SecurityRoleAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "responsibility", "position"]


@admin.register(ProcedureStep)
class ProcedureStepAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "key", "text"]
    ordering = ["position"]


@admin.register(Regulation)
class RegulationAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "timeline", "deadline", "authority", "position"]


@admin.register(ReminderPoint)
class ReminderPointAdmin(admin.ModelAdmin):
    list_display = ["before"]


class SecurityOnlyAdmin(admin.ModelAdmin):
    """Rows about security incidents, shown only to members of the Security group."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if user_may_see_security(request.user) else queryset.none()


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SecurityRoleAssignmentInline(ReadOnlyInline):
    model = SecurityRoleAssignment
    fields = ["role", "user", "assigned_by", "assigned_at"]


class ProcedureStepRecordInline(ReadOnlyInline):
    model = ProcedureStepRecord
    fields = ["position", "step", "done_at", "done_by", "note"]


class EvidenceItemInline(ReadOnlyInline):
    model = EvidenceItem
    fields = ["description", "location", "sha256", "collected_by", "collected_at"]


class RegulatoryObligationInline(ReadOnlyInline):
    model = RegulatoryObligation
    fields = ["regulation", "due_at", "notified_at", "notice_method", "notice_reference"]


@admin.register(SecurityIncident)
class SecurityIncidentAdmin(SecurityOnlyAdmin):
    """Security incidents change through the incident page, which records each change on the
    timeline; the admin shows them read-only."""

    list_display = ["incident", "security_class", "aware_at", "marked_by", "marked_at"]
    list_filter = ["security_class"]
    list_select_related = ["incident", "security_class", "marked_by"]
    search_fields = ["incident__title"]
    inlines = [
        SecurityRoleAssignmentInline,
        ProcedureStepRecordInline,
        EvidenceItemInline,
        RegulatoryObligationInline,
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EvidenceItem)
class EvidenceItemAdmin(SecurityOnlyAdmin):
    list_display = ["description", "security_incident", "location", "collected_by", "collected_at"]
    list_select_related = ["security_incident__incident", "collected_by"]
    search_fields = ["description", "location", "sha256"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RegulatoryObligation)
class RegulatoryObligationAdmin(SecurityOnlyAdmin):
    list_display = ["regulation", "security_incident", "due_at", "notified_at", "notice_method"]
    list_filter = ["regulation"]
    list_select_related = ["regulation", "security_incident__incident"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ObligationReminder)
class ObligationReminderAdmin(SecurityOnlyAdmin):
    list_display = ["obligation", "kind", "before", "due_at", "sent_at"]
    list_filter = ["kind"]
    list_select_related = ["obligation__regulation", "obligation__security_incident__incident"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
