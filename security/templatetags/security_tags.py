import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.inclusion_tag("security/_panel.html", takes_context=True)
def security_panel(context, incident):
    """Render the security panel of an incident page; empty outside the Security group."""
    from security.views import panel_context

    panel = panel_context(context["request"], incident)
    panel["csrf_token"] = context.get("csrf_token")
    panel["request"] = context["request"]
    return panel


@register.inclusion_tag("security/_header.html", takes_context=True)
def security_header(context, incident):
    """Render the restricted-visibility notice in a security incident's header."""
    from security.selectors import security_incident_get

    return {"record": security_incident_get(user=context["request"].user, incident=incident)}


@register.simple_tag
def obligation_countdown(obligation) -> dict:
    """Describe an obligation's deadline: state (none, closed, ok, overdue) and time left."""
    if obligation.notified_at is not None:
        return {"state": "closed"}
    if obligation.due_at is None:
        return {"state": "none"}
    left = obligation.due_at - timezone.now()
    total_minutes = int(abs(left.total_seconds()) // 60)
    hours, minutes = divmod(total_minutes, 60)
    state = "overdue" if left <= datetime.timedelta(0) else "ok"
    return {"state": state, "hours": hours, "minutes": minutes}
