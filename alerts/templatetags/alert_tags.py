from django import template

from alerts.selectors import incident_alert_list

register = template.Library()


@register.inclusion_tag("alerts/_incident_alerts.html")
def incident_alerts(incident):
    """Render the alerts attached to an incident, for the incident page."""
    return {"incident": incident, "alerts": list(incident_alert_list(incident=incident))}
