from django.apps import AppConfig


class PagingConfig(AppConfig):
    name = "paging"
    verbose_name = "Paging and escalation"
