import secrets

from django import forms
from django.contrib import admin, messages

from . import services
from .models import (
    Alert,
    AlertGroup,
    AlertRule,
    Delivery,
    Integration,
    RejectedDelivery,
    SnsSubscription,
)


class IntegrationForm(forms.ModelForm):
    new_token = forms.CharField(
        required=False,
        strip=True,
        min_length=16,
        help_text="Leave empty to keep the current token (a new integration gets a random one). "
        "Only its hash is stored, so the token is shown once, after saving.",
    )
    rotate_token = forms.BooleanField(
        required=False, help_text="Replace the token with a new random one on save."
    )

    class Meta:
        model = Integration
        fields = [
            "kind",
            "name",
            "is_active",
            "client_secret",
            "default_severity",
            "severity_map",
            "match_mode",
            "grouping_key",
            "storm_limit_per_minute",
            "max_body_bytes",
        ]


class RejectedDeliveryInline(admin.TabularInline):
    model = RejectedDelivery
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["received_at", "status_code", "reason", "errors"]
    readonly_fields = fields
    ordering = ["-received_at"]
    show_change_link = True


class SnsSubscriptionInline(admin.TabularInline):
    model = SnsSubscription
    extra = 0
    max_num = 0
    fields = ["topic_arn", "requested_at", "confirmed_at", "last_error"]
    readonly_fields = fields


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    list_display = ["name", "kind", "default_severity", "match_mode", "is_active", "token_hint"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["token_hint", "created_at", "updated_at"]
    inlines = [SnsSubscriptionInline, RejectedDeliveryInline]

    def save_model(self, request, obj, form, change):
        token = form.cleaned_data.get("new_token") or ""
        if form.cleaned_data.get("rotate_token") or (not change and not token):
            token = secrets.token_urlsafe(32)
        if token:
            obj.token_set(token)
        super().save_model(request, obj, form, change)
        if token:
            messages.warning(
                request,
                f"Token of {obj.name}: {token} — copy it now; it is not shown again.",
            )


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "condition", "severity", "declares_incident"]
    list_filter = ["category", "severity", "declares_incident"]
    exclude = ["policy_checksum"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "integration",
        "status",
        "severity",
        "rule",
        "incident",
        "last_seen_at",
    ]
    list_filter = ["status", "source", "severity", "feedback"]
    search_fields = ["title", "identity", "service"]
    list_select_related = ["integration", "severity", "rule", "incident"]
    raw_id_fields = ["incident", "group", "last_delivery", "feedback_by"]


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    list_display = ["key", "rule", "incident", "updated_at"]
    search_fields = ["key"]
    raw_id_fields = ["incident"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "integration", "received_at", "status", "alert_count", "attempts"]
    list_filter = ["status", "integration"]
    readonly_fields = [field.name for field in Delivery._meta.fields]


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "kind", "integration", "status_code", "reason"]
    list_filter = ["status_code", "kind"]
    readonly_fields = [field.name for field in RejectedDelivery._meta.fields]


@admin.register(SnsSubscription)
class SnsSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["topic_arn", "integration", "requested_at", "confirmed_at"]
    readonly_fields = ["integration", "topic_arn", "subscribe_url", "requested_at", "confirmed_at"]
    actions = ["confirm_again"]

    @admin.action(description="Confirm the selected subscriptions again")
    def confirm_again(self, request, queryset):
        for subscription in queryset:
            subscription = services.sns_subscription_confirm(subscription_id=subscription.pk)
            if subscription.confirmed_at:
                messages.success(request, f"Confirmed {subscription.topic_arn}.")
            else:
                messages.error(request, f"{subscription.topic_arn}: {subscription.last_error}")
