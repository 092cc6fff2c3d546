import datetime

import factory

from oncall.models import OnCallLayer, Override, Rotation, RotationMember
from tests.incidents.factories import UserFactory


def layer(key: str = OnCallLayer.PRIMARY) -> OnCallLayer:
    """Return a layer loaded from the policy."""
    return OnCallLayer.objects.get(key=key)


class RotationFactory(factory.django.DjangoModelFactory):
    """A weekly rotation on the primary layer starting Monday 2026-03-02; timing from the layer."""

    class Meta:
        model = Rotation

    name = factory.Sequence(lambda number: f"Rotation {number}")
    layer = factory.LazyFunction(layer)
    start_date = datetime.date(2026, 3, 2)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        rotation = model_class(*args, **kwargs)
        rotation.full_clean()
        rotation.save()
        return rotation


class OverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Override

    rotation = factory.SubFactory(RotationFactory)
    user = factory.SubFactory(UserFactory)


def rotation_with(*usernames: str, **kwargs) -> Rotation:
    """Create a rotation whose members are these users, in this order."""
    rotation = RotationFactory(**kwargs)
    for position, username in enumerate(usernames, start=1):
        RotationMember.objects.create(
            rotation=rotation,
            user=UserFactory(username=username, first_name=username.title(), last_name="Example"),
            position=position,
        )
    return rotation
