from django import template
from django.utils import timezone

from communications.selectors import enterprise_notice_list, enterprise_notice_open_list

register = template.Library()


@register.inclusion_tag("communications/_incident_customers.html", takes_context=True)
def incident_customer_communication(context, incident):
    """Render the enterprise customers' email, call and report state on the incident page."""
    return {
        "incident": incident,
        "notices": list(enterprise_notice_list(incident=incident)),
        "now": timezone.now(),
        "csrf_token": context.get("csrf_token"),
        "user": context.get("user"),
    }


@register.inclusion_tag("communications/_my_customer_work.html", takes_context=True)
def my_customer_work(context):
    """Render the calls and reports the viewer owes as success manager, for the dashboard."""
    user = context.get("user")
    notices = list(enterprise_notice_open_list(user=user)) if user else []
    return {"notices": notices, "now": timezone.now(), "csrf_token": context.get("csrf_token")}
