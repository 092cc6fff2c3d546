import datetime

import factory
from django.contrib.auth.models import Group

from communications.models import CustomerContact, EnterpriseAccount, Subscriber
from incidents import services
from incidents.models import Level, ResponseRole, UpdateStatus
from tests.incidents.factories import CustomerFactory, UserFactory, declare_incident


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda number: f"subscriber{number}@example.org")
    all_components = True
    confirmed_at = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)


class CustomerContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerContact

    customer = factory.SubFactory(CustomerFactory, is_enterprise=True)
    name = factory.Sequence(lambda number: f"Contact {number}")
    email = factory.Sequence(lambda number: f"contact{number}@customer.example")


class EnterpriseAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EnterpriseAccount

    customer = factory.SubFactory(CustomerFactory, is_enterprise=True)
    success_manager = factory.SubFactory(UserFactory)


def manager_user(**kwargs):
    return UserFactory(groups=["Managers"], **kwargs)


def declare_sev1(**kwargs):
    """Declare a SEV-1 (impact high x urgency high) through the incident service."""
    return declare_incident(impact=Level.HIGH, urgency=Level.HIGH, **kwargs)


def communications_lead_assign(incident, user, actor):
    role = ResponseRole.objects.get(key=ResponseRole.COMMUNICATIONS_LEAD)
    return services.incident_role_assign(actor=actor, incident=incident, role=role, user=user)


def public_update_post(incident, actor, body="We are investigating.", **kwargs):
    return services.status_update_post(
        actor=actor,
        incident=incident,
        status=kwargs.pop("status", UpdateStatus.INVESTIGATING),
        body=body,
        is_public=kwargs.pop("is_public", True),
        **kwargs,
    )


def group(name):
    return Group.objects.get(name=name)
