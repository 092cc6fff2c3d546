import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from incidents.durations import format_duration

register = template.Library()

# Severity level -> the shape shown beside the word, so colour is never the only signal.
SEVERITY_SHAPES = {1: "◆", 2: "▲", 3: "●", 4: "○"}


@register.filter
def local_time(value: datetime.datetime | None) -> str:
    """Format an aware time in the viewer's zone, naming the zone: 2026-12-04 14:03 CET."""
    if value is None:
        return "—"
    return date_format(timezone.localtime(value), "Y-m-d H:i T")


@register.filter
def short_duration(value: datetime.timedelta | None) -> str:
    return format_duration(value, empty="—")


@register.simple_tag
def minutes_between(later: datetime.datetime, earlier: datetime.datetime) -> int:
    return int((later - earlier).total_seconds() // 60)


@register.inclusion_tag("incidents/_severity_badge.html")
def severity_badge(severity):
    return {"severity": severity}


@register.filter
def severity_shape(severity) -> str:
    return SEVERITY_SHAPES.get(getattr(severity, "level", 0), "■")


@register.inclusion_tag("incidents/_update_due.html")
def update_due(incident):
    return {"incident": incident}


@register.simple_tag
def due_state(due_at: datetime.datetime | None, soon_minutes: int = 5) -> dict:
    """Describe a due time relative to now: state (none, ok, soon, overdue) and minutes."""
    if due_at is None:
        return {"state": "none", "minutes": 0}
    now = timezone.now()
    minutes = int(abs((due_at - now).total_seconds()) // 60)
    if due_at < now:
        return {"state": "overdue", "minutes": minutes}
    if due_at - now <= datetime.timedelta(minutes=soon_minutes):
        return {"state": "soon", "minutes": minutes}
    return {"state": "ok", "minutes": minutes}


@register.simple_tag
def incident_age(incident) -> str:
    return format_duration(incident.duration(timezone.now()))
