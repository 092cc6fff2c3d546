from django.apps import AppConfig


class ChatopsConfig(AppConfig):
    name = "chatops"
    verbose_name = "Chat operations (Slack)"
