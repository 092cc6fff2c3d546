import datetime

import factory
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import ChecklistItem, Phase
from postmortems.models import ActionItem, ActionItemPriority, Postmortem, Team
from tests.incidents.factories import UserFactory, commander_role, commander_user, declare_incident


def manager_user(**kwargs):
    return UserFactory(groups=["Managers"], **kwargs)


def resolve_incident(incident, commander=None):
    """Walk an incident through every phase to Resolve, as its commander, skipping checklists."""
    commander = commander or commander_user()
    incident_services.incident_role_assign(
        actor=commander, incident=incident, role=commander_role(), user=commander
    )
    for phase in (Phase.TRIAGE, Phase.RESPOND, Phase.RESOLVE):
        incident = incident_services.incident_phase_change(
            actor=commander, incident=incident, phase=phase, confirm_skip=True
        )
    return incident


def resolved_incident(**kwargs):
    commander = kwargs.pop("commander", None) or commander_user()
    return resolve_incident(declare_incident(**kwargs), commander=commander)


def tick_resolve_item(incident, position, actor):
    item = ChecklistItem.objects.get(incident=incident, phase=Phase.RESOLVE, position=position)
    incident_services.checklist_item_tick(actor=actor, item=item)


def priority(key="P2"):
    return ActionItemPriority.objects.get(key=key)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["name"]
        skip_postgeneration_save = True

    name = factory.Sequence(lambda number: f"Team {number}")

    @factory.post_generation
    def managers(self, create, extracted, **kwargs):
        if create and extracted:
            self.managers.set(extracted)

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.set(extracted)


class PostmortemFactory(factory.django.DjangoModelFactory):
    """A post-mortem row without the incident lifecycle, for tables and reports."""

    class Meta:
        model = Postmortem

    incident = factory.LazyFunction(lambda: declare_incident())
    due_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=1))


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    postmortem = factory.SubFactory(PostmortemFactory)
    incident = factory.LazyAttribute(lambda item: item.postmortem.incident)
    title = factory.Sequence(lambda number: f"Action {number}")
    owner = factory.SubFactory(UserFactory)
    priority = factory.LazyFunction(priority)
    due_date = datetime.date(2026, 3, 10)
    created_at = factory.LazyFunction(timezone.now)
