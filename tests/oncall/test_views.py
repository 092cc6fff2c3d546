import datetime
import zoneinfo

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oncall.models import Override, RotationMember
from oncall.services import profile_feed_token_get
from tests.incidents.factories import UserFactory, commander_user, responder_user, viewer_user
from tests.oncall.factories import OverrideFactory, rotation_with

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2026, 3, 18, 10, 0, tzinfo=UTC)


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=False):
        yield


def _schedule(client, rotation, **params):
    return client.get(reverse("oncall:rotation_schedule", args=[rotation.pk]), params)


def _feed_events(response) -> list:
    calendar = icalendar.Calendar.from_ical(response.content)
    return sorted(calendar.walk("VEVENT"), key=lambda event: event.decoded("dtstart"))


def test_schedule_shows_on_call_now(client, travel):
    rotation = rotation_with("alice", "bob")
    client.force_login(viewer_user())

    response = _schedule(client, rotation)

    assert response.status_code == 200
    assert response.context["current"].user.username == "bob"
    assert "On call now:" in response.content.decode()


def test_schedule_query_count_flat(client, travel, django_assert_num_queries):
    small = rotation_with("alice", "bob")
    large = rotation_with("u1", "u2", "u3", "u4", "u5", "u6")
    for day in range(5):
        OverrideFactory(
            rotation=large,
            start=NOW + datetime.timedelta(days=day),
            end=NOW + datetime.timedelta(days=day, hours=3),
        )
    client.force_login(viewer_user())
    _schedule(client, small)

    with CaptureQueriesContext(connection) as small_queries:
        _schedule(client, small)
    with CaptureQueriesContext(connection) as large_queries:
        response = _schedule(client, large)

    assert len(response.context["shift_rows"]) > 15
    assert len(large_queries) == len(small_queries)
    with django_assert_num_queries(len(small_queries)):
        _schedule(client, large)


def test_schedule_draws_override_and_gap(client, travel):
    rotation = rotation_with("alice", "bob", start_date=datetime.date(2026, 3, 16))
    OverrideFactory(
        rotation=rotation,
        user=UserFactory(username="carol"),
        start=NOW + datetime.timedelta(days=1),
        end=NOW + datetime.timedelta(days=2),
    )
    client.force_login(viewer_user())

    body = _schedule(client, rotation).content.decode()

    assert "bar-override" in body
    assert "Override: " in body
    assert "⚠ Gap" in body
    assert "Gaps: nobody on call" in body
    assert 'class="now-line"' in body


def test_schedule_zone_switcher(client, travel):
    rotation = rotation_with("alice")
    client.force_login(viewer_user())

    response = _schedule(client, rotation, tz="Asia/Tokyo")

    assert response.context["zone_name"] == "Asia/Tokyo"
    assert "All times in Asia/Tokyo." in response.content.decode()
    assert "JST" in response.content.decode()


def test_schedule_unknown_zone_falls_back(client, travel):
    rotation = rotation_with("alice")
    client.force_login(viewer_user())

    response = _schedule(client, rotation, tz="Mars/Olympus")

    assert response.status_code == 200
    assert response.context["zone_name"] == "UTC"
    assert response.context["zone_form"].errors


def test_override_add_page(client, travel):
    rotation = rotation_with("alice", "bob")
    carol = UserFactory(username="carol")
    client.force_login(responder_user())

    response = client.post(
        reverse("oncall:override_add", args=[rotation.pk]) + "?tz=Europe/Berlin",
        {
            "user": carol.pk,
            "start": "2026-03-19T09:00",
            "end": "2026-03-19T17:00",
            "reason": "Swap",
        },
    )

    assert response.status_code == 302
    override = Override.objects.get()
    assert override.start == datetime.datetime(2026, 3, 19, 8, 0, tzinfo=UTC)
    assert override.user == carol


def test_override_add_errors_inline(client, travel):
    rotation = rotation_with("alice")
    client.force_login(responder_user())

    response = client.post(
        reverse("oncall:override_add", args=[rotation.pk]),
        {"user": UserFactory().pk, "start": "2026-03-10T09:00", "end": "2026-03-10T17:00"},
    )

    assert response.status_code == 400
    assert "ends in the past" in response.content.decode()


def test_override_add_forbidden_for_viewer(client, travel):
    rotation = rotation_with("alice")
    client.force_login(viewer_user())

    response = client.get(reverse("oncall:override_add", args=[rotation.pk]))

    assert response.status_code == 403


def test_rotation_feed_parses(client, travel):
    rotation = rotation_with("alice", "bob")

    response = client.get(reverse("oncall:rotation_feed", args=[rotation.pk, rotation.feed_token]))

    events = _feed_events(response)
    assert response["Content-Type"].startswith("text/calendar")
    assert events[0].decoded("dtstart") == datetime.datetime(2026, 3, 8, tzinfo=UTC)
    assert str(events[0]["summary"]) == f"On call: {rotation.name} (Primary) - Alice Example"
    assert len({str(event["uid"]) for event in events}) == len(events)


def test_rotation_feed_wrong_token(client, travel):
    rotation = rotation_with("alice")

    response = client.get(reverse("oncall:rotation_feed", args=[rotation.pk, "x" * 43]))

    assert response.status_code == 404


def test_rotation_feed_old_token_after_rotate(client, travel):
    rotation = rotation_with("alice")
    old_url = reverse("oncall:rotation_feed", args=[rotation.pk, rotation.feed_token])
    manager = UserFactory(groups=["Managers"])
    client.force_login(manager)

    client.post(reverse("oncall:rotation_feed_token_rotate", args=[rotation.pk]))
    client.logout()

    rotation.refresh_from_db()
    assert client.get(old_url).status_code == 404
    new_url = reverse("oncall:rotation_feed", args=[rotation.pk, rotation.feed_token])
    assert client.get(new_url).status_code == 200


def test_person_feed_lists_own_shifts(client, travel):
    rotation_with("alice", "bob")
    alice = UserFactory(username="alice")
    token = profile_feed_token_get(user=alice)

    response = client.get(reverse("oncall:person_feed", args=[alice.pk, token]))

    starts = [event.decoded("dtstart") for event in _feed_events(response)]
    assert datetime.datetime(2026, 3, 8, tzinfo=UTC) in starts
    assert datetime.datetime(2026, 3, 15, tzinfo=UTC) not in starts


def test_person_feed_needs_token(client, travel):
    alice = UserFactory(username="alice")
    profile_feed_token_get(user=alice)

    response = client.get(reverse("oncall:person_feed", args=[alice.pk, "guess"]))

    assert response.status_code == 404


def test_my_shifts_page(client, travel):
    rotation_with("alice", "bob")
    client.force_login(UserFactory(username="bob"))

    response = client.get(reverse("oncall:my_shifts"))

    assert response.status_code == 200
    assert [shift.start for shift in response.context["shifts"]] == [
        NOW,
        datetime.datetime(2026, 3, 29, tzinfo=UTC),
        datetime.datetime(2026, 4, 12, tzinfo=UTC),
        datetime.datetime(2026, 4, 26, tzinfo=UTC),
        datetime.datetime(2026, 5, 10, tzinfo=UTC),
    ]
    assert "download=1" in response.content.decode()


def test_profile_sets_zone_and_contact_method(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        reverse("oncall:profile"),
        {
            "time_zone": "Europe/Berlin",
            "contact_methods-TOTAL_FORMS": "1",
            "contact_methods-INITIAL_FORMS": "0",
            "contact_methods-0-channel": "sms",
            "contact_methods-0-address": "+4930123456",
            "contact_methods-0-position": "1",
        },
    )

    assert response.status_code == 302
    user.profile.refresh_from_db()
    assert user.profile.time_zone == zoneinfo.ZoneInfo("Europe/Berlin")
    assert list(user.contact_methods.values_list("channel", "address")) == [("sms", "+4930123456")]


def test_dashboard_shows_on_call_per_layer(client, travel):
    rotation_with("alice", "bob")
    client.force_login(viewer_user())

    response = client.get(reverse("incidents:dashboard"))

    primary = response.context["on_call_layers"][0]
    assert primary.current.user.username == "bob"
    assert primary.current.end == datetime.datetime(2026, 3, 22, tzinfo=UTC)
    assert primary.next.user.username == "alice"
    assert "On call now" in response.content.decode()


def test_declare_offers_primary_on_call_as_commander(client, travel):
    rotation_with("alice", "bob")
    client.force_login(commander_user())

    response = client.get(reverse("incidents:declare"))

    assert response.context["form"].initial["commander"] == UserFactory(username="bob").pk


def test_declare_falls_back_to_requester(client, travel):
    requester = commander_user()
    client.force_login(requester)

    response = client.get(reverse("incidents:declare"))

    assert response.context["form"].initial["commander"] == requester.pk


def test_admin_reorder_members_shows_at_once(admin_client, travel):
    rotation = rotation_with("alice", "bob")
    members = list(RotationMember.objects.filter(rotation=rotation).order_by("position"))
    url = reverse("admin:oncall_rotation_change", args=[rotation.pk])
    form = {
        "name": rotation.name,
        "layer": rotation.layer_id,
        "position": 0,
        "is_active": "on",
        "start_date": "2026-03-02",
        "shift_length_0": "7",
        "shift_length": "7 00:00:00",
        "handoff_weekday": "6",
        "handoff_time": "00:00",
        "time_zone": "UTC",
        "offset": "0",
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "2",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "members-0-id": members[0].pk,
        "members-0-rotation": rotation.pk,
        "members-0-user": members[0].user_id,
        "members-0-position": "2",
        "members-1-id": members[1].pk,
        "members-1-rotation": rotation.pk,
        "members-1-user": members[1].user_id,
        "members-1-position": "1",
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule = admin_client.get(reverse("oncall:rotation_schedule", args=[rotation.pk]))
    assert schedule.context["current"].user.username == "alice"
    feed = admin_client.get(
        reverse("oncall:rotation_feed", args=[rotation.pk, rotation.feed_token])
    )
    first = _feed_events(feed)[0]
    assert str(first["summary"]) == f"On call: {rotation.name} (Primary) - Bob Example"


def test_admin_add_override_shows_at_once(admin_client, travel):
    rotation = rotation_with("alice", "bob")
    carol = UserFactory(username="carol", first_name="Carol", last_name="Silva")

    response = admin_client.post(
        reverse("admin:oncall_override_add"),
        {
            "rotation": rotation.pk,
            "user": carol.pk,
            "start_0": "2026-03-18",
            "start_1": "09:00",
            "end_0": "2026-03-18",
            "end_1": "12:00",
            "reason": "",
        },
    )

    assert response.status_code == 302
    schedule = admin_client.get(reverse("oncall:rotation_schedule", args=[rotation.pk]))
    assert schedule.context["current"].user == carol
    feed = admin_client.get(
        reverse("oncall:rotation_feed", args=[rotation.pk, rotation.feed_token])
    )
    summaries = [str(event["summary"]) for event in _feed_events(feed)]
    assert "On call: " + rotation.name + " (Primary) - Carol Silva [override]" in summaries
