from django.contrib import admin
from django.db.models import Q

from incidents.selectors import incident_list

from .models import ContactMethod, DeliveryAttempt, Message


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "succeeded", "error"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "target", "subject", "status", "attempts", "incident"]
    list_filter = ["status", "channel"]
    search_fields = ["subject", "target", "dedup_key"]
    list_select_related = ["incident", "recipient"]
    readonly_fields = [field.name for field in Message._meta.fields]
    inlines = [DeliveryAttemptInline]

    def get_queryset(self, request):
        # Messages about a security incident are hidden with the incident.
        visible = incident_list(user=request.user).values("pk")
        return (
            super().get_queryset(request).filter(Q(incident__isnull=True) | Q(incident__in=visible))
        )

    def has_add_permission(self, request):
        return False


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "address", "position"]
    list_filter = ["channel"]
    search_fields = ["user__username", "address"]
    list_select_related = ["user"]
