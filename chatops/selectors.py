from django.db.models import QuerySet

from incidents.models import Incident

from .models import ChannelOperation, IncidentChannel


def incident_for_channel(*, channel_id: str, channel_name: str) -> Incident | None:
    """Return the incident whose Slack channel this is, by the stored ID, else by its name.

    The name matches channels that people created by hand when the portal had no bot token.
    """
    queryset = Incident.objects.select_related("severity")
    if channel_id:
        incident = queryset.filter(slack_channel__channel_id=channel_id).first()
        if incident is not None:
            return incident
    if not channel_name:
        return None
    return (
        queryset.filter(channel_name=f"#{channel_name}").first()
        or queryset.filter(slack_channel__name=channel_name).first()
    )


def incident_channel_get(*, incident: Incident) -> IncidentChannel | None:
    return IncidentChannel.objects.filter(incident=incident).first()


def channel_operation_incident_list(*, incident: Incident) -> QuerySet[ChannelOperation]:
    return ChannelOperation.objects.filter(incident=incident).order_by("created_at", "id")
