from django.contrib import admin

from .models import ChannelOperation, IncidentChannel, SlashCommand


@admin.register(IncidentChannel)
class IncidentChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "channel_id", "incident", "archived_at"]
    search_fields = ["name", "channel_id"]
    list_select_related = ["incident"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ChannelOperation)
class ChannelOperationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "incident", "kind", "summary", "status", "attempts"]
    list_filter = ["status", "kind"]
    search_fields = ["summary", "dedup_key", "error"]
    list_select_related = ["incident"]
    readonly_fields = [field.name for field in ChannelOperation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SlashCommand)
class SlashCommandAdmin(admin.ModelAdmin):
    list_display = ["created_at", "slack_user_id", "user", "channel_name", "text", "status"]
    list_filter = ["status"]
    search_fields = ["text", "slack_user_id", "channel_name"]
    list_select_related = ["user"]
    # The response_url lets anyone reply into the user's Slack for 30 minutes: keep it out.
    exclude = ["response_url"]
    readonly_fields = [
        field.name for field in SlashCommand._meta.fields if field.name != "response_url"
    ]

    def has_add_permission(self, request):
        return False
