from django import template

register = template.Library()


@register.inclusion_tag("runbooks/_incident_panel.html", takes_context=True)
def runbook_panel(context, incident):
    """Render the runbooks matching an incident, with a form to record a step run."""
    from runbooks.views import panel_context

    panel = panel_context(context["request"], incident)
    panel["csrf_token"] = context.get("csrf_token")
    return panel
