import csv
import datetime
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import Level
from postmortems import reviews
from postmortems.models import ActionItem, Postmortem
from tests.incidents.factories import UserFactory, responder_user, viewer_user

from .factories import (
    ActionItemFactory,
    PostmortemFactory,
    TeamFactory,
    manager_user,
    priority,
    resolved_incident,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


def _items(postmortem, owner, count, *, due_date=datetime.date(2026, 3, 20), **fields):
    default_priority = priority()
    ActionItem.objects.bulk_create(
        [
            ActionItem(
                postmortem=postmortem,
                incident=postmortem.incident,
                title=f"Item {number}",
                owner=owner,
                priority=default_priority,
                due_date=due_date,
                created_at=timezone.now(),
                **fields,
            )
            for number in range(count)
        ]
    )


def _csv_rows(response):
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    return list(csv.DictReader(io.StringIO(text.decode())))


def test_action_item_page_query_count_flat(client, django_assert_num_queries):
    manager = manager_user()
    client.force_login(manager)
    postmortem = PostmortemFactory()
    owner = UserFactory()
    TeamFactory(members=[owner], managers=[manager])
    _items(postmortem, owner, 20)
    url = reverse("postmortems:action_items")
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    _items(postmortem, owner, 4980)

    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url + "?sort=-severity")

    assert response.status_code == 200


def test_action_item_overdue_row_marked(client):
    client.force_login(manager_user())
    ActionItemFactory(title="Late one", due_date=datetime.date(2026, 3, 7))

    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("postmortems:action_items"))

    assert "overdue 3 days" in response.content.decode()


def test_filters_and_csv_return_exactly_filtered_rows(client):
    client.force_login(manager_user())
    alice, bob = UserFactory(username="alice-f"), UserFactory(username="bob-f")
    ActionItemFactory(owner=alice, title="Alice late", due_date=datetime.date(2026, 3, 1))
    ActionItemFactory(owner=alice, title="Alice later", due_date=datetime.date(2026, 4, 1))
    ActionItemFactory(owner=bob, title="Bob late", due_date=datetime.date(2026, 3, 2))
    ActionItemFactory(owner=alice, title="Alice done", status=ActionItem.Status.DONE)
    query = f"?owner={alice.pk}&overdue=yes"

    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("postmortems:action_items") + query)
        exported = client.get(reverse("postmortems:action_items") + query + "&format=csv")

    assert [row.record.title for row in page.context["table"].page.object_list] == ["Alice late"]
    assert [row["title"] for row in _csv_rows(exported)] == ["Alice late"]


def test_csv_exports_every_filtered_row_not_a_page(client):
    client.force_login(manager_user())
    postmortem = PostmortemFactory()
    _items(postmortem, UserFactory(), 120)

    response = client.get(reverse("postmortems:action_items") + "?format=csv")

    assert len(_csv_rows(response)) == 120


def test_filter_by_team_and_severity(client):
    client.force_login(manager_user())
    member = UserFactory()
    team = TeamFactory(name="Core", members=[member])
    sev1 = resolved_incident(impact=Level.HIGH, urgency=Level.HIGH)
    ActionItemFactory(owner=member, team=team, title="Core SEV-1", postmortem=sev1.postmortem)
    ActionItemFactory(owner=member, team=team, title="Core SEV-2")
    ActionItemFactory(title="Other team")

    response = client.get(
        reverse("postmortems:action_items") + f"?team={team.pk}&severity={sev1.severity_id}"
    )

    assert [row.record.title for row in response.context["table"].page.object_list] == [
        "Core SEV-1"
    ]


def test_bulk_status_change(client):
    client.force_login(manager_user())
    first, second, untouched = ActionItemFactory(), ActionItemFactory(), ActionItemFactory()

    response = client.post(
        reverse("postmortems:action_item_bulk"),
        {"items": [first.pk, second.pk], "status": "done", "next": "/postmortems/action-items/"},
    )

    assert response.status_code == 302
    assert ActionItem.objects.filter(status="done").count() == 2
    untouched.refresh_from_db()
    assert untouched.status == "open"


def test_bulk_forbidden_for_responder(client):
    client.force_login(responder_user())

    response = client.post(
        reverse("postmortems:action_item_bulk"),
        {"items": [ActionItemFactory().pk], "status": "done"},
    )

    assert response.status_code == 403


def test_postmortem_detail_shows_state_and_sections(client):
    client.force_login(viewer_user())
    postmortem = resolved_incident().postmortem
    postmortem.executive_summary = "API **down**<script>alert(1)</script>"
    postmortem.save()

    response = client.get(postmortem.get_absolute_url())

    body = response.content.decode()
    assert "Draft" in body
    assert "<strong>down</strong>" in body
    assert "<script>alert(1)" not in body


def test_edit_saves_text_and_timeline(client):
    user = responder_user()
    client.force_login(user)
    postmortem = resolved_incident().postmortem
    data = {
        "author": user.pk,
        "executive_summary": "API errors for 40 minutes.",
        "root_cause": "A bad config push.",
        "timeline-TOTAL_FORMS": "2",
        "timeline-INITIAL_FORMS": "0",
        "timeline-0-occurred_at": "2026-03-02T13:00",
        "timeline-0-event": "Alert triggered",
        "timeline-1-occurred_at": "",
        "timeline-1-event": "",
    }

    response = client.post(reverse("postmortems:edit", args=[postmortem.pk]), data)

    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.root_cause == "A bad config push."
    assert [entry.event for entry in postmortem.timeline.all()] == ["Alert triggered"]


def test_edit_invalid_keeps_input(client):
    client.force_login(responder_user())
    postmortem = resolved_incident().postmortem
    data = {
        "executive_summary": "Kept text",
        "impact_duration_minutes": "not a number",
        "timeline-TOTAL_FORMS": "0",
        "timeline-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("postmortems:edit", args=[postmortem.pk]), data)

    assert response.status_code == 400
    assert "Kept text" in response.content.decode()


def test_export_is_markdown_attachment(client):
    client.force_login(viewer_user())
    postmortem = resolved_incident().postmortem

    response = client.get(reverse("postmortems:export", args=[postmortem.pk]))

    assert response["Content-Type"].startswith("text/markdown")
    assert response.content.decode().startswith("# Post-Incident Review: ")


def test_print_page_uses_print_css(client):
    client.force_login(viewer_user())
    postmortem = resolved_incident().postmortem

    response = client.get(reverse("postmortems:print", args=[postmortem.pk]))

    assert "postmortem-print.css" in response.content.decode()


def test_request_postmortem_for_sev4(client):
    client.force_login(responder_user())
    incident = resolved_incident(impact=Level.LOW, urgency=Level.LOW)

    response = client.post(reverse("postmortems:request", args=[incident.pk]))

    assert response.status_code == 302
    assert Postmortem.objects.filter(incident=incident).exists()


def test_add_action_item_from_postmortem(client):
    user = responder_user()
    client.force_login(user)
    postmortem = resolved_incident().postmortem

    response = client.post(
        reverse("postmortems:action_item_add", args=[postmortem.pk]),
        {"title": "Alert on queue", "owner": user.pk, "priority": priority("P1").pk,
         "due_date": "2026-04-01"},
    )  # fmt: skip

    assert response.status_code == 302
    assert postmortem.action_items.get().title == "Alert on queue"


def test_review_item_reassign_and_complete(client):
    manager = manager_user()
    client.force_login(manager)
    new_owner = UserFactory()
    item = ActionItemFactory(due_date=datetime.date(2026, 3, 1))
    with time_machine.travel(TODAY, tick=False):
        review, _ = reviews.weekly_review_start()
    week = review.week_start.isoformat()

    client.post(
        reverse("postmortems:review_item_update", args=[week, item.pk]),
        {f"item-{item.pk}-item": item.pk, f"item-{item.pk}-owner": new_owner.pk,
         f"item-{item.pk}-due_date": "2026-03-20", f"item-{item.pk}-comment": "Moved"},
    )  # fmt: skip
    client.post(reverse("postmortems:review_complete", args=[week]), {"notes": "Done"})

    item.refresh_from_db()
    review.refresh_from_db()
    assert item.owner == new_owner
    assert review.completed_by == manager


def test_review_page_query_count_flat(client, django_assert_num_queries):
    client.force_login(manager_user())
    postmortem = PostmortemFactory()
    owner = UserFactory()
    _items(postmortem, owner, 3)
    with time_machine.travel(TODAY, tick=False):
        small_review, _ = reviews.weekly_review_start()
    _items(postmortem, owner, 60)
    with time_machine.travel(TODAY + datetime.timedelta(days=7), tick=False):
        big_review, _ = reviews.weekly_review_start()
    with CaptureQueriesContext(connection) as small:
        client.get(small_review.get_absolute_url())

    with django_assert_num_queries(len(small.captured_queries)):
        client.get(big_review.get_absolute_url())


def test_report_page_renders_charts_and_tables(client):
    client.force_login(viewer_user())
    resolved_incident()

    response = client.get(reverse("postmortems:reports"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "data:image/svg+xml;base64," in body
    assert "<table" in body


def test_report_csv_download(client):
    client.force_login(viewer_user())

    response = client.get(
        reverse("postmortems:reports") + "?quarter=2026-Q1&table=incidents&format=csv"
    )

    rows = _csv_rows(response)
    assert [row["Month"] for row in rows] == ["2026-01", "2026-02", "2026-03"]


def test_pages_need_login(client):
    response = client.get(reverse("postmortems:action_items"))

    assert response.status_code == 302


def test_report_page_shows_on_call_load(client):
    client.force_login(viewer_user())

    response = client.get(reverse("postmortems:reports"))

    assert 'id="report-pages_per_rotation"' in response.text
    assert 'id="report-pages_per_person"' in response.text


def test_report_csv_of_pages_per_person(client):
    client.force_login(viewer_user())

    response = client.get(
        reverse("postmortems:reports") + "?quarter=2026-Q1&table=pages_per_person&format=csv"
    )

    header = response.content.decode().splitlines()[0]
    assert header == "Person,2026-01,2026-02,2026-03,Total"
