from django.contrib import admin

from .models import (
    CadenceReminder,
    CommunicationPolicy,
    CustomerContact,
    EnterpriseAccount,
    EnterpriseNotice,
    EnterpriseNotificationPolicy,
    IncidentCommunication,
    InternalChannel,
    Subscriber,
)


@admin.register(CommunicationPolicy)
class CommunicationPolicyAdmin(admin.ModelAdmin):
    list_display = ["key", "reminder_before_due", "reminder_channels", "status_page_history"]


@admin.register(EnterpriseNotificationPolicy)
class EnterpriseNotificationPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "key",
        "severity_keys",
        "email_within",
        "success_manager_call_within",
        "detailed_report_within",
    ]


@admin.register(InternalChannel)
class InternalChannelAdmin(admin.ModelAdmin):
    list_display = ["audience", "channel", "sends", "every", "severity_keys", "is_active"]
    list_editable = ["channel", "is_active"]


@admin.register(CadenceReminder)
class CadenceReminderAdmin(admin.ModelAdmin):
    list_display = ["incident", "due_at", "stage", "recipient", "sent_at"]
    list_filter = ["stage"]
    list_select_related = ["incident", "recipient"]
    readonly_fields = ["incident", "due_at", "stage", "recipient", "sent_at"]


@admin.register(IncidentCommunication)
class IncidentCommunicationAdmin(admin.ModelAdmin):
    list_display = ["incident", "leadership_summary_due_at"]
    raw_id_fields = ["incident"]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "all_components", "confirmed_at", "created_at"]
    list_filter = ["all_components"]
    search_fields = ["email"]
    filter_horizontal = ["components"]


@admin.register(CustomerContact)
class CustomerContactAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "customer"]
    search_fields = ["name", "email", "customer__name"]


@admin.register(EnterpriseAccount)
class EnterpriseAccountAdmin(admin.ModelAdmin):
    list_display = ["customer", "success_manager"]
    list_select_related = ["customer", "success_manager"]


@admin.register(EnterpriseNotice)
class EnterpriseNoticeAdmin(admin.ModelAdmin):
    list_display = [
        "incident",
        "customer",
        "success_manager",
        "email_sent_at",
        "call_due_at",
        "call_done_at",
        "report_due_at",
        "report_sent_at",
    ]
    list_select_related = ["incident", "customer", "success_manager"]
    raw_id_fields = ["incident"]
