import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import Message
from oncall import services, tasks
from oncall.models import Override, ShiftNotice, ShiftNoticeRule
from tests.incidents.factories import UserFactory, responder_user, viewer_user
from tests.oncall.factories import rotation_with

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
HANDOFF = datetime.datetime(2026, 3, 15, tzinfo=UTC)


def _notices(**filters) -> list[tuple[str, str, str]]:
    return sorted(
        ShiftNotice.objects.filter(**filters).values_list("user__username", "rule__key", "role")
    )


def _send(rotation, now):
    with time_machine.travel(now, tick=False):
        return services.rotation_shift_notices_send(rotation=rotation, now=now)


def test_handoff_tells_incoming_and_outgoing():
    rotation = rotation_with("alice", "bob")

    _send(rotation, HANDOFF + datetime.timedelta(seconds=30))

    assert _notices(rule__key="handoff") == [
        ("alice", "handoff", "outgoing"),
        ("bob", "handoff", "incoming"),
    ]


def test_handoff_notices_once_when_sent_twice():
    rotation = rotation_with("alice", "bob")

    _send(rotation, HANDOFF + datetime.timedelta(seconds=30))
    second = _send(rotation, HANDOFF + datetime.timedelta(seconds=90))

    assert second == 0
    assert ShiftNotice.objects.filter(rule__key="handoff").count() == 2
    assert Message.objects.filter(subject__startswith="You are on call for").count() == 2
    assert Message.objects.filter(subject__startswith="Your on-call shift for").count() == 2


def test_sweep_task_twice_sends_each_notice_once(django_capture_on_commit_callbacks):
    rotation = rotation_with("alice", "bob")

    with time_machine.travel(HANDOFF + datetime.timedelta(seconds=10), tick=False):
        tasks.rotation_shift_notices_send_task(rotation.pk)
        tasks.rotation_shift_notices_send_task(rotation.pk)

    assert ShiftNotice.objects.filter(shift_start=HANDOFF, rule__key="handoff").count() == 2
    assert ShiftNotice.objects.filter(rule__key="day_before").count() == 0


def test_stale_handoff_not_told():
    rotation = rotation_with("alice", "bob")

    _send(rotation, HANDOFF + services.HANDOFF_NOTICE_LATE_LIMIT + datetime.timedelta(minutes=1))

    assert _notices(rule__key="handoff") == []


def test_day_before_reminder_to_incoming_only():
    rotation = rotation_with("alice", "bob")

    _send(rotation, HANDOFF - datetime.timedelta(hours=23))
    _send(rotation, HANDOFF - datetime.timedelta(hours=22))

    assert _notices(shift_start=HANDOFF) == [("bob", "day_before", "incoming")]


def test_week_before_reminder():
    rotation = rotation_with("alice", "bob")

    _send(rotation, HANDOFF - datetime.timedelta(days=6, hours=23))

    assert _notices(shift_start=HANDOFF) == [("bob", "week_before", "incoming")]


def test_short_notice_shift_gets_only_the_closest_reminder():
    rotation = rotation_with("alice", "bob")

    _send(rotation, HANDOFF - datetime.timedelta(hours=5))

    assert _notices(shift_start=HANDOFF) == [("bob", "day_before", "incoming")]


def test_reminder_lead_time_is_data():
    rotation = rotation_with("alice", "bob")
    ShiftNoticeRule.objects.filter(key="day_before").update(lead_time=datetime.timedelta(hours=2))

    _send(rotation, HANDOFF - datetime.timedelta(hours=3))
    _send(rotation, HANDOFF - datetime.timedelta(hours=1))

    assert _notices(shift_start=HANDOFF, rule__key="day_before") == [
        ("bob", "day_before", "incoming")
    ]
    assert ShiftNotice.objects.get(
        rule__key="day_before"
    ).created_at == HANDOFF - datetime.timedelta(hours=1)


def test_override_creates_handoffs():
    rotation = rotation_with("alice", "bob")
    carol = UserFactory(username="carol")
    start = datetime.datetime(2026, 3, 10, 12, tzinfo=UTC)
    Override.objects.create(
        rotation=rotation, user=carol, start=start, end=start + datetime.timedelta(hours=6)
    )

    _send(rotation, start + datetime.timedelta(minutes=1))

    assert _notices(shift_start=start, rule__key="handoff") == [
        ("alice", "handoff", "outgoing"),
        ("carol", "handoff", "incoming"),
    ]


def test_override_create_tells_moved_people(django_capture_on_commit_callbacks):
    rotation = rotation_with("alice", "bob")
    carol = UserFactory(username="carol")
    actor = responder_user()

    with time_machine.travel(datetime.datetime(2026, 3, 9, tzinfo=UTC), tick=False):
        services.override_create(
            actor=actor,
            rotation=rotation,
            user=carol,
            start=datetime.datetime(2026, 3, 10, tzinfo=UTC),
            end=datetime.datetime(2026, 3, 11, tzinfo=UTC),
        )

    recipients = set(
        Message.objects.filter(subject="Your on-call shifts changed").values_list(
            "recipient__username", flat=True
        )
    )
    assert recipients == {"alice", "carol"}


def test_moved_notice_says_what_moved():
    rotation = rotation_with("alice", "bob")
    carol = UserFactory(username="carol")

    with time_machine.travel(datetime.datetime(2026, 3, 9, tzinfo=UTC), tick=False):
        services.override_create(
            actor=None,
            rotation=rotation,
            user=carol,
            start=datetime.datetime(2026, 3, 10, tzinfo=UTC),
            end=datetime.datetime(2026, 3, 11, tzinfo=UTC),
        )

    body = Message.objects.filter(recipient__username="alice", channel="email").get().body
    assert "No longer on call:\n- " in body
    assert "Tue 2026-03-10 00:00 UTC to Wed 2026-03-11 00:00 UTC" in body
    assert "Now on call" not in body


def test_members_reorder_tells_moved_people():
    rotation = rotation_with("alice", "bob", "carol")
    alice, bob, carol = (UserFactory(username=name) for name in ("alice", "bob", "carol"))
    admin = UserFactory(groups=["Admins"])

    with time_machine.travel(datetime.datetime(2026, 3, 9, tzinfo=UTC), tick=False):
        services.rotation_members_set(actor=admin, rotation=rotation, users=[alice, carol, bob])

    recipients = set(Message.objects.values_list("recipient__username", flat=True))
    assert recipients == {"bob", "carol"}


def test_override_in_the_past_rejected():
    rotation = rotation_with("alice")

    with (
        time_machine.travel(datetime.datetime(2026, 3, 20, tzinfo=UTC), tick=False),
        pytest.raises(ValidationError) as error,
    ):
        services.override_create(
            actor=None,
            rotation=rotation,
            user=UserFactory(),
            start=datetime.datetime(2026, 3, 10, tzinfo=UTC),
            end=datetime.datetime(2026, 3, 11, tzinfo=UTC),
        )

    assert "end" in error.value.message_dict


def test_viewer_cannot_add_override():
    rotation = rotation_with("alice")

    with pytest.raises(PermissionDenied):
        services.override_create(
            actor=viewer_user(),
            rotation=rotation,
            user=UserFactory(),
            start=datetime.datetime(2030, 3, 10, tzinfo=UTC),
            end=datetime.datetime(2030, 3, 11, tzinfo=UTC),
        )


def test_feed_token_rotate_replaces_token():
    rotation = rotation_with("alice")
    old = rotation.feed_token

    services.rotation_feed_token_rotate(actor=None, rotation=rotation)

    assert rotation.feed_token != old
    assert len(rotation.feed_token) >= 40
