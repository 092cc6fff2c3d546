import datetime

from django.contrib.auth.models import Group

from arka_portal.groups import SECURITY_GROUP
from security import services
from security.models import Regulation, SecurityClass, SecurityRole
from tests.incidents.factories import UserFactory, declare_incident


def security_user(**kwargs):
    """Return a member of the Security group who can also command incidents."""
    user = UserFactory(groups=["Incident Commanders"], **kwargs)
    user.groups.add(Group.objects.get(name=SECURITY_GROUP))
    return user


def security_class(key: str = "S2") -> SecurityClass:
    return SecurityClass.objects.get(key=key)


def regulation(key: str) -> Regulation:
    return Regulation.objects.get(key=key)


def security_role(key: str) -> SecurityRole:
    return SecurityRole.objects.get(key=key)


def mark_security_incident(
    *,
    actor=None,
    incident=None,
    class_key: str = "S2",
    aware_at: datetime.datetime | None = None,
):
    """Declare an incident (unless given) and mark it as a security incident of the class."""
    actor = actor or security_user()
    incident = incident or declare_incident(actor=actor, title="Unusual logins on admin accounts")
    return services.security_incident_mark(
        actor=actor, incident=incident, security_class=security_class(class_key), aware_at=aware_at
    )


def legal_counsel_for(record, user=None):
    """Assign the Legal Counsel role on the record to a Security group member; returns them."""
    user = user or security_user()
    services.security_role_assign(
        actor=user, security_incident=record, role=security_role("legal_counsel"), user=user
    )
    return user
