from django.db.models import QuerySet

from .models import Message


def message_incident_list(*, incident) -> QuerySet[Message]:
    return Message.objects.filter(incident=incident).select_related("recipient")
