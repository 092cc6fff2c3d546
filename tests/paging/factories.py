import datetime

from incidents.models import Level
from notifications.models import ContactMethod
from paging.models import EscalationContact
from tests.incidents.factories import UserFactory, declare_incident, responder_user

START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def minutes(value: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=value)


def on_call_people() -> dict:
    """Make one responder per rotation layer and escalation role, each with an email address."""
    return {
        "primary": responder_user(username="primary"),
        "secondary": responder_user(username="secondary"),
        "management": UserFactory(username="manager", groups=["Managers"]),
        "vp_engineering": UserFactory(username="vp", groups=["Managers"]),
        "cto": UserFactory(username="cto", groups=["Managers"]),
    }


def contact_holders_set(people: dict) -> None:
    for key in ("vp_engineering", "cto"):
        EscalationContact.objects.filter(key=key).update(holder=people[key])


def contact_method_add(user, channel: str, address: str) -> ContactMethod:
    return ContactMethod.objects.create(user=user, channel=channel, address=address)


def declare_sev1(**kwargs):
    return declare_incident(impact=Level.HIGH, urgency=Level.HIGH, **kwargs)


def declare_sev2(**kwargs):
    return declare_incident(impact=Level.HIGH, urgency=Level.MEDIUM, **kwargs)


def declare_sev3(**kwargs):
    return declare_incident(impact=Level.HIGH, urgency=Level.LOW, **kwargs)
