from django.contrib import admin

from incidents.selectors import incident_list

from .models import Runbook, RunbookAlertRule, RunbookStepRun


class RunbookAlertRuleInline(admin.TabularInline):
    model = RunbookAlertRule
    extra = 1
    exclude = ["policy_checksum"]


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ["title", "key", "trigger", "updated_at"]
    search_fields = ["title", "trigger", "body"]
    filter_horizontal = ["services"]
    inlines = [RunbookAlertRuleInline]


@admin.register(RunbookStepRun)
class RunbookStepRunAdmin(admin.ModelAdmin):
    list_display = ["incident", "runbook", "step_number", "step_title", "run_by", "run_at"]
    list_filter = ["runbook"]
    list_select_related = ["incident", "runbook", "run_by"]

    def get_queryset(self, request):
        visible = incident_list(user=request.user).values("pk")
        return super().get_queryset(request).filter(incident__in=visible)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
