import datetime
import zoneinfo

import pytest
import time_machine

from oncall.models import OnCallLayer, Weekday
from oncall.selectors import (
    gap_list,
    handoff_index,
    layer_on_call_get,
    on_call_user_get,
    shift_list,
    user_shift_list,
)
from tests.incidents.factories import UserFactory
from tests.oncall.factories import OverrideFactory, layer, rotation_with

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _at(*args, zone=UTC) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=zone)


def _username(rotation, at) -> str | None:
    user = on_call_user_get(rotation=rotation, at=at)
    return user.username if user is not None else None


def test_primary_layer_policy_defaults():
    primary = layer()

    assert primary.shift_length == datetime.timedelta(days=7)
    assert primary.handoff_weekday == Weekday.SUNDAY
    assert primary.handoff_time == datetime.time(0, 0)
    assert primary.time_zone.key == "UTC"


def test_handoff_exactly_at_sunday_midnight_utc():
    rotation = rotation_with("alice", "bob")
    # 2026-03-02 is a Monday, so the first handoff is Sunday 2026-03-08 00:00 UTC.

    before = _username(rotation, _at(2026, 3, 14, 23, 59, 59, 999999))
    at_handoff = _username(rotation, _at(2026, 3, 15))

    assert before == "alice"
    assert at_handoff == "bob"


def test_nobody_before_first_handoff():
    rotation = rotation_with("alice", "bob")

    assert _username(rotation, _at(2026, 3, 7, 23, 59)) is None
    assert _username(rotation, _at(2026, 3, 8)) == "alice"


def test_members_cycle_in_order():
    rotation = rotation_with("alice", "bob", "carol")

    names = [
        _username(rotation, _at(2026, 3, 8) + datetime.timedelta(weeks=week)) for week in range(4)
    ]

    assert names == ["alice", "bob", "carol", "alice"]


def test_secondary_offset_by_three_days():
    primary = rotation_with("alice", "bob")
    secondary = rotation_with("carol", "dave", layer=layer(OnCallLayer.SECONDARY))

    primary_shifts = shift_list(rotation=primary, start=_at(2026, 3, 8), end=_at(2026, 3, 30))
    secondary_shifts = shift_list(rotation=secondary, start=_at(2026, 3, 8), end=_at(2026, 3, 30))

    assert secondary.offset == datetime.timedelta(days=3)
    assert [shift.start for shift in secondary_shifts][1:] == [
        shift.start + datetime.timedelta(days=3) for shift in primary_shifts
    ][1:3]
    assert secondary_shifts[0].start == _at(2026, 3, 11)


def test_berlin_handoff_keeps_local_time_across_dst():
    # Berlin moves to summer time on 2026-03-29 and back on 2026-10-25, both Sundays.
    rotation = rotation_with(
        "alice",
        "bob",
        start_date=datetime.date(2026, 3, 1),
        time_zone="Europe/Berlin",
        handoff_time=datetime.time(9, 0),
    )

    shifts = shift_list(rotation=rotation, start=_at(2026, 3, 20), end=_at(2026, 11, 10))
    # The first shift is cut at the start of the range; the others start at a handoff.
    starts = [shift.start.astimezone(BERLIN) for shift in shifts[1:]]

    assert {start.time() for start in starts} == {datetime.time(9, 0)}
    assert {start.weekday() for start in starts} == {Weekday.SUNDAY}
    assert _at(2026, 3, 29, 9, zone=BERLIN) in starts
    assert _at(2026, 10, 25, 9, zone=BERLIN) in starts
    assert _at(2026, 3, 29, 9, zone=BERLIN).astimezone(UTC).hour == 7
    assert _at(2026, 3, 22, 9, zone=BERLIN).astimezone(UTC).hour == 8
    assert _at(2026, 10, 25, 9, zone=BERLIN).astimezone(UTC).hour == 8


def test_berlin_handoff_instant_on_dst_day():
    rotation = rotation_with(
        "alice",
        "bob",
        start_date=datetime.date(2026, 3, 1),
        time_zone="Europe/Berlin",
        handoff_time=datetime.time(9, 0),
    )
    # Weeks from the first handoff on 2026-03-01: alice, bob, alice, bob, alice (on 03-29).

    assert _username(rotation, _at(2026, 3, 29, 6, 59, 59)) == "bob"
    assert _username(rotation, _at(2026, 3, 29, 7, 0)) == "alice"
    assert _username(rotation, _at(2026, 10, 25, 7, 59, 59)) == "bob"
    assert _username(rotation, _at(2026, 10, 25, 8, 0)) == "alice"


def test_handoff_index_near_fall_back():
    rotation = rotation_with(
        "alice",
        start_date=datetime.date(2026, 10, 24),
        time_zone="Europe/Berlin",
        handoff_time=datetime.time(2, 30),
        shift_length=datetime.timedelta(days=1),
        handoff_weekday=Weekday.SATURDAY,
    )
    # 02:30 happens twice on 2026-10-25; the handoff is the first one, 00:30 UTC.

    assert rotation.handoff_at(1) == _at(2026, 10, 25, 0, 30)
    assert handoff_index(rotation, _at(2026, 10, 25, 0, 29)) == 0
    assert handoff_index(rotation, _at(2026, 10, 25, 1, 45)) == 1


def test_override_inside_shift():
    rotation = rotation_with("alice", "bob")
    OverrideFactory(
        rotation=rotation,
        user=UserFactory(username="carol"),
        start=_at(2026, 3, 10, 12),
        end=_at(2026, 3, 11, 12),
    )

    shifts = shift_list(rotation=rotation, start=_at(2026, 3, 8), end=_at(2026, 3, 15))

    assert [(shift.user.username, shift.start, shift.end) for shift in shifts] == [
        ("alice", _at(2026, 3, 8), _at(2026, 3, 10, 12)),
        ("carol", _at(2026, 3, 10, 12), _at(2026, 3, 11, 12)),
        ("alice", _at(2026, 3, 11, 12), _at(2026, 3, 15)),
    ]
    assert [shift.is_override for shift in shifts] == [False, True, False]


def test_overlapping_overrides_newest_wins():
    rotation = rotation_with("alice", "bob")
    with time_machine.travel(_at(2026, 3, 1), tick=False):
        older = OverrideFactory(
            rotation=rotation,
            user=UserFactory(username="carol"),
            start=_at(2026, 3, 9),
            end=_at(2026, 3, 12),
        )
    with time_machine.travel(_at(2026, 3, 2), tick=False):
        newer = OverrideFactory(
            rotation=rotation,
            user=UserFactory(username="dave"),
            start=_at(2026, 3, 10),
            end=_at(2026, 3, 11),
        )

    shifts = shift_list(rotation=rotation, start=_at(2026, 3, 9), end=_at(2026, 3, 12))

    assert [(shift.user.username, shift.override_id) for shift in shifts] == [
        ("carol", older.pk),
        ("dave", newer.pk),
        ("carol", older.pk),
    ]
    assert shifts[1].replaced_overrides == (older,)
    assert shifts[0].replaced_overrides == ()


def test_newest_override_wins_even_when_shorter_started_earlier():
    rotation = rotation_with("alice")
    with time_machine.travel(_at(2026, 3, 2), tick=False):
        OverrideFactory(
            rotation=rotation,
            user=UserFactory(username="dave"),
            start=_at(2026, 3, 9),
            end=_at(2026, 3, 10),
        )
    with time_machine.travel(_at(2026, 3, 3), tick=False):
        OverrideFactory(
            rotation=rotation,
            user=UserFactory(username="carol"),
            start=_at(2026, 3, 8),
            end=_at(2026, 3, 12),
        )

    assert _username(rotation, _at(2026, 3, 9, 12)) == "carol"


def test_gap_before_first_handoff():
    rotation = rotation_with("alice")
    start, end = _at(2026, 3, 5), _at(2026, 3, 12)

    gaps = gap_list(
        shifts=shift_list(rotation=rotation, start=start, end=end), start=start, end=end
    )

    assert [(gap.start, gap.end) for gap in gaps] == [(start, _at(2026, 3, 8))]


def test_rotation_without_members_is_all_gap():
    rotation = rotation_with()

    assert shift_list(rotation=rotation, start=_at(2026, 3, 8), end=_at(2026, 3, 20)) == []


def test_management_layer_engaged_severities():
    rotation_with("carol", layer=layer(OnCallLayer.MANAGEMENT))
    at = _at(2026, 3, 9)

    assert layer_on_call_get(layer="management", at=at, severity="SEV-1").username == "carol"
    assert layer_on_call_get(layer="management", at=at, severity="SEV-2").username == "carol"
    assert layer_on_call_get(layer="management", at=at, severity="SEV-3") is None
    assert layer_on_call_get(layer="management", at=at).username == "carol"


def test_layer_on_call_skips_inactive_rotation():
    rotation_with("alice", is_active=False, position=0)
    rotation_with("bob", position=1)

    user = layer_on_call_get(layer="primary", at=_at(2026, 3, 9))

    assert user.username == "bob"


def test_user_shift_list_across_rotations():
    rotation_with("alice", "bob")
    rotation_with("carol", "alice", layer=layer(OnCallLayer.SECONDARY))
    alice = UserFactory(username="alice")

    shifts = user_shift_list(user=alice, start=_at(2026, 3, 8), end=_at(2026, 3, 22))

    assert [(shift.rotation.layer.key, shift.start, shift.end) for shift in shifts] == [
        ("primary", _at(2026, 3, 8), _at(2026, 3, 15)),
        ("secondary", _at(2026, 3, 18), _at(2026, 3, 22)),
    ]
