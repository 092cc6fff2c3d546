"""Demo on-call data: the three policy layers staffed by the demo people, an override, and
contact methods. Called by the incident demo loader once the demo people exist."""

import datetime

from django.utils import timezone

from notifications.models import Channel, ContactMethod

from .models import OnCallLayer, Override, Rotation, RotationMember

# Rotation name, layer key, members in order.
DEMO_ROTATIONS = [
    ("Platform primary", OnCallLayer.PRIMARY, ["demo", "alice", "bob"]),
    ("Platform secondary", OnCallLayer.SECONDARY, ["alice", "bob", "demo"]),
    ("Engineering management", OnCallLayer.MANAGEMENT, ["carol", "demo"]),
]
DEMO_SLACK_IDS = {"demo": "U0DEMO001", "alice": "U0ALICE01", "bob": "U0BOB0001"}
DEMO_PHONES = {"demo": "+4930901820", "alice": "+442079460000", "carol": "+5511955550100"}


def oncall_demo_load(people: dict) -> None:
    """Create the demo rotations, starting four weeks back so the schedule has history."""
    today = timezone.now().date()
    start_date = today - datetime.timedelta(weeks=4)
    rotations = {}
    for position, (name, layer_key, usernames) in enumerate(DEMO_ROTATIONS, start=1):
        rotation = Rotation(
            name=name,
            layer=OnCallLayer.objects.get(key=layer_key),
            position=position,
            start_date=start_date,
        )
        rotation.full_clean()
        rotation.save()
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=people[username], position=index)
            for index, username in enumerate(usernames, start=1)
        )
        rotations[layer_key] = rotation

    # Bob covers a day of next week's primary shift, from Tuesday 08:00 UTC.
    now = timezone.now()
    next_monday = (now + datetime.timedelta(days=7 - now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    Override.objects.create(
        rotation=rotations[OnCallLayer.PRIMARY],
        user=people["bob"],
        start=next_monday + datetime.timedelta(days=1, hours=8),
        end=next_monday + datetime.timedelta(days=2, hours=8),
        reason="Swap for a dentist appointment",
        created_by=people["demo"],
    )

    for username, user in people.items():
        methods = [(Channel.EMAIL, user.email)]
        if username in DEMO_SLACK_IDS:
            methods.append((Channel.SLACK, DEMO_SLACK_IDS[username]))
        if username in DEMO_PHONES:
            methods += [
                (Channel.SMS, DEMO_PHONES[username]),
                (Channel.PHONE, DEMO_PHONES[username]),
            ]
        ContactMethod.objects.bulk_create(
            ContactMethod(user=user, channel=channel, address=address, position=index)
            for index, (channel, address) in enumerate(methods, start=1)
        )
