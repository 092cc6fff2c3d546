"""iCalendar feeds of on-call shifts, for calendar apps to subscribe to by secret address."""

import datetime

import icalendar
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from .selectors import Shift

PRODUCT_ID = "-//ARKA Portal//On-call shifts//EN"
# Calendar apps refresh a subscription at their own pace. This requests an hourly refresh.
REFRESH_INTERVAL = datetime.timedelta(hours=1)
# Past shifts kept in a feed, so this week's earlier shifts stay visible.
FEED_HISTORY = datetime.timedelta(weeks=4)


def _shift_uid(shift: Shift) -> str:
    start = int(shift.start.timestamp())
    return f"rotation-{shift.rotation.pk}-{start}-user-{shift.user.pk}@arka-portal"


def calendar_build(*, name: str, shifts: list[Shift], with_person: bool) -> bytes:
    """Return an iCalendar document with one event per shift, times in UTC."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    stamp = timezone.now()
    for shift in shifts:
        event = icalendar.Event()
        event.add("uid", _shift_uid(shift))
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start.astimezone(datetime.UTC))
        event.add("dtend", shift.end.astimezone(datetime.UTC))
        rotation = shift.rotation
        summary = f"On call: {rotation.name} ({rotation.layer.name})"
        if with_person:
            summary += f" - {shift.user.get_full_name() or shift.user.get_username()}"
        if shift.is_override:
            summary += " [override]"
        event.add("summary", summary)
        event.add("url", settings.PORTAL_BASE_URL + rotation.get_absolute_url())
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()


def rotation_feed_url(rotation) -> str:
    path = reverse("oncall:rotation_feed", args=[rotation.pk, rotation.feed_token])
    return settings.PORTAL_BASE_URL + path


def person_feed_url(user, token: str) -> str:
    return settings.PORTAL_BASE_URL + reverse("oncall:person_feed", args=[user.pk, token])
