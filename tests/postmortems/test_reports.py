"""The quarterly figures against values worked out by hand for a small data set."""

import datetime

import pytest

from incidents.models import Incident, Level
from postmortems.models import ActionItem
from postmortems.reports import Quarter, quarterly_report
from tests.incidents.factories import ServiceFactory, declare_incident

from .factories import ActionItemFactory, PostmortemFactory

pytestmark = pytest.mark.django_db

Q1 = Quarter(2026, 1)
NOW = datetime.datetime(2026, 4, 15, tzinfo=datetime.UTC)


def _at(month, day, hour=0, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=datetime.UTC)


def _incident(impact, urgency, detected, acknowledged_after=None, resolved_after=None, services=()):
    incident = declare_incident(impact=impact, urgency=urgency, services=services)
    Incident.objects.filter(pk=incident.pk).update(
        detected_at=detected,
        declared_at=detected,
        acknowledged_at=detected + acknowledged_after if acknowledged_after else None,
        resolved_at=detected + resolved_after if resolved_after else None,
    )
    return incident


@pytest.fixture
def data_set():
    api = ServiceFactory(name="API")
    minutes = datetime.timedelta(minutes=1)
    # SEV-1 in January: acknowledged after 10 min, resolved after 60 min, on the API.
    _incident(Level.HIGH, Level.HIGH, _at(1, 5), 10 * minutes, 60 * minutes, [api])
    # SEV-2 in January: acknowledged after 20 min, resolved after 120 min, on the API.
    _incident(Level.HIGH, Level.MEDIUM, _at(1, 20), 20 * minutes, 120 * minutes, [api])
    # SEV-2 in March: acknowledged after 30 min, still open.
    _incident(Level.HIGH, Level.MEDIUM, _at(3, 3), 30 * minutes)
    # SEV-3 in April: outside the quarter.
    _incident(Level.HIGH, Level.LOW, _at(4, 2), 5 * minutes, 5 * minutes)
    # Post-mortems due in February: one on time, one late; due in March: one never submitted.
    PostmortemFactory(due_at=_at(2, 1), submitted_at=_at(1, 31))
    PostmortemFactory(due_at=_at(2, 10), submitted_at=_at(2, 11))
    PostmortemFactory(due_at=_at(3, 10), submitted_at=None)
    # Action items: two opened in January, one in February; one done in February, one won't do
    # in March.
    ActionItemFactory(created_at=_at(1, 6), status=ActionItem.Status.DONE, closed_at=_at(2, 2))
    ActionItemFactory(
        created_at=_at(1, 21),
        status=ActionItem.Status.WONT_DO,
        wont_do_reason="Superseded",
        closed_at=_at(3, 1),
    )
    ActionItemFactory(created_at=_at(2, 3))


def _tables():
    return {table.key: table for table in quarterly_report(Q1, NOW, None)}


def test_incidents_per_severity_per_month(data_set):
    rows = _tables()["incidents"].rows

    assert rows == [
        ["2026-01", 1, 1, 0, 0, 2],
        ["2026-02", 0, 0, 0, 0, 0],
        ["2026-03", 0, 1, 0, 0, 1],
    ]


def test_mean_times_overall(data_set):
    rows = _tables()["response"].rows

    # Acknowledge: (10 + 20 + 30) / 3 = 20; resolve: (60 + 120) / 2 = 90.
    assert rows[0] == ["Overall", "All incidents", 3, 20.0, 90.0]


def test_mean_times_per_severity_and_service(data_set):
    rows = {(row[0], row[1]): row[2:] for row in _tables()["response"].rows}

    assert rows[("Severity", "SEV-1")] == [1, 10.0, 60.0]
    assert rows[("Severity", "SEV-2")] == [2, 25.0, 120.0]
    assert rows[("Service", "API")] == [2, 15.0, 90.0]


def test_postmortems_on_time_versus_late(data_set):
    rows = _tables()["postmortems"].rows

    assert rows == [["2026-01", 0, 0, 0], ["2026-02", 1, 1, 0], ["2026-03", 0, 1, 0]]


def test_action_items_opened_versus_closed(data_set):
    rows = _tables()["action_items"].rows

    assert rows == [["2026-01", 2, 0, 0], ["2026-02", 1, 1, 0], ["2026-03", 0, 0, 1]]


def test_monthly_summary_lists_done_items(data_set):
    rows = _tables()["completed"].rows

    assert [(row[0], row[6]) for row in rows] == [("2026-02", "2026-02-02")]


def test_quarter_parse_rejects_bad_input():
    with pytest.raises(ValueError, match="invalid quarter"):
        Quarter.parse("2026-Q5")
