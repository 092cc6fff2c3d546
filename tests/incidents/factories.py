import datetime

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from incidents import services
from incidents.models import Customer, Level, ResponseRole, Service

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda number: f"user{number}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    first_name = "Test"
    last_name = factory.Sequence(lambda number: f"Person{number}")
    password = factory.django.Password("password")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))


def commander_user(**kwargs):
    return UserFactory(groups=["Incident Commanders"], **kwargs)


def responder_user(**kwargs):
    return UserFactory(groups=["Responders"], **kwargs)


def viewer_user(**kwargs):
    return UserFactory(groups=["Viewers"], **kwargs)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda number: f"Service {number}")
    slug = factory.LazyAttribute(lambda service: service.name.lower().replace(" ", "-"))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda number: f"Customer {number}")
    is_enterprise = False


def declare_incident(
    *,
    actor=None,
    title: str = "Elevated error rates on API",
    impact: str = Level.HIGH,
    urgency: str = Level.MEDIUM,
    commander=None,
    detected_at: datetime.datetime | None = None,
    **kwargs,
):
    """Declare an incident through the service, as the portal does; SEV-2 by default."""
    actor = actor or commander_user()
    return services.incident_declare(
        actor=actor,
        title=title,
        description=kwargs.pop("description", "Error rate above 5% on the public API."),
        impact=impact,
        urgency=urgency,
        commander=commander,
        detected_at=detected_at,
        **kwargs,
    )


def commander_role() -> ResponseRole:
    return ResponseRole.objects.get(key=ResponseRole.INCIDENT_COMMANDER)
