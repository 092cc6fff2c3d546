from django.contrib import admin

from .models import (
    AlertRoute,
    Escalation,
    EscalationContact,
    EscalationPage,
    EscalationPolicy,
    EscalationStep,
    EscalationTrigger,
    NoProgressThreshold,
)


@admin.register(AlertRoute)
class AlertRouteAdmin(admin.ModelAdmin):
    list_display = ["severity", "position", "channel", "target"]
    list_filter = ["severity", "channel"]
    list_select_related = ["severity"]


@admin.register(EscalationContact)
class EscalationContactAdmin(admin.ModelAdmin):
    list_display = ["level", "role", "holder", "contact_methods", "severities"]
    list_select_related = ["holder"]
    autocomplete_fields = ["holder"]


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    ordering = ["position"]
    fields = ["position", "delay", "target_layer", "target_contact"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["severity", "repeat_from_position", "repeat_times", "repeat_after"]
    list_select_related = ["severity"]
    inlines = [EscalationStepInline]


@admin.register(EscalationTrigger)
class EscalationTriggerAdmin(admin.ModelAdmin):
    list_display = ["position", "key", "text"]


@admin.register(NoProgressThreshold)
class NoProgressThresholdAdmin(admin.ModelAdmin):
    list_display = ["severity", "after"]
    list_select_related = ["severity"]


class EscalationPageInline(admin.TabularInline):
    model = EscalationPage
    extra = 0
    can_delete = False
    fields = ["run", "step", "round", "target_label", "recipient", "due_at", "paged_at", "channels"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """Escalations are read here; they change through the incident page and the sweep."""

    list_display = [
        "incident",
        "severity_key",
        "next_due_at",
        "response_due_at",
        "response_missed_at",
        "stop_reason",
    ]
    list_filter = ["severity_key", "stop_reason"]
    list_select_related = ["incident"]
    readonly_fields = [field.name for field in Escalation._meta.fields]
    inlines = [EscalationPageInline]

    def has_add_permission(self, request):
        return False
