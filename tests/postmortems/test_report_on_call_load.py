"""On-call load in the quarterly report, against counts worked out by hand.

The primary rotation "Primary team" hands off every Sunday at 00:00 UTC from 2026-01-04, with
alice on call in the weeks starting 4 Jan, 18 Jan, 1 Feb and 1 Mar, and bob in the weeks between.
"Primary backup" always has carol, and "Secondary team" always has dave from 2026-01-07.
"""

import datetime

import pytest
import time_machine

from incidents.models import Level
from oncall.models import Override
from paging.models import EscalationPage, Layer
from postmortems.reports import Quarter, quarterly_report
from tests.incidents.factories import UserFactory, commander_user, declare_incident
from tests.oncall.factories import layer, rotation_with
from tests.security.factories import mark_security_incident, security_user

pytestmark = pytest.mark.django_db

Q1 = Quarter(2026, 1)
NOW = datetime.datetime(2026, 4, 15, tzinfo=datetime.UTC)


def _at(month, day, hour=0, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=datetime.UTC)


def _step_index(escalation, *, layer_key=None):
    """Return the index of the snapshot step for the layer, or of the first contact step."""
    for index, step in enumerate(escalation.steps):
        if (layer_key and step["layer"] == layer_key) or (not layer_key and step["contact"]):
            return index
    raise AssertionError(f"no such step in {escalation.steps}")


class Pages:
    """Adds escalation pages to an incident, one round each, so the unique key never clashes."""

    def __init__(self, incident):
        self.escalation = incident.escalation
        self.escalation.pages.all().delete()
        self.round = 0

    def add(self, paged_at, recipient, *, layer_key=None, run=None):
        step = _step_index(self.escalation, layer_key=layer_key)
        self.round += 1
        return EscalationPage.objects.create(
            escalation=self.escalation,
            run=self.escalation.run if run is None else run,
            step=step,
            round=self.round,
            target_label=self.escalation.steps[step]["label"],
            recipient=recipient,
            due_at=paged_at,
            paged_at=paged_at,
        )


@pytest.fixture
def people():
    start = datetime.date(2026, 1, 1)
    primary = rotation_with("alice", "bob", name="Primary team", start_date=start)
    backup = rotation_with("carol", name="Primary backup", start_date=start, position=1)
    secondary = rotation_with(
        "dave", name="Secondary team", start_date=start, layer=layer(Layer.SECONDARY)
    )
    users = {
        member.user.username: member.user
        for rotation in (primary, backup, secondary)
        for member in rotation.members.all()
    }
    users["eve"] = UserFactory(username="eve")
    users["frank"] = UserFactory(username="frank")
    Override.objects.create(
        rotation=primary, user=users["eve"], start=_at(2, 10, 12), end=_at(2, 10, 18)
    )
    return users


@pytest.fixture
def pages(people):
    incident = declare_incident(impact=Level.HIGH, urgency=Level.HIGH)
    pages = Pages(incident)
    primary = Layer.PRIMARY
    pages.add(_at(1, 5, 10), people["alice"], layer_key=primary)
    # A page of an earlier run, whose step is read back from its target label.
    old = pages.add(_at(1, 12, 10), people["bob"], layer_key=primary, run=0)
    EscalationPage.objects.filter(pk=old.pk).update(step=99)
    pages.add(_at(1, 12, 10, 5), people["dave"], layer_key=Layer.SECONDARY)
    pages.add(_at(2, 2, 9), people["carol"], layer_key=primary)
    pages.add(_at(2, 10, 13), people["eve"], layer_key=primary)
    contact_page = pages.add(_at(3, 3, 8), people["frank"])
    pages.add(_at(3, 9, 8), None, layer_key=primary)
    # Bob is on call in the week of 8 March, so alice was paged outside her shift.
    pages.add(_at(3, 10, 8), people["alice"], layer_key=primary)
    pages.add(_at(4, 1), people["alice"], layer_key=primary)
    return {"contact_label": contact_page.target_label}


@pytest.fixture
def secret_page(people):
    record = mark_security_incident()
    Pages(record.incident).add(_at(2, 3, 9), people["alice"], layer_key=Layer.PRIMARY)


def _rows(key, user):
    tables = {table.key: table for table in quarterly_report(Q1, NOW, user)}
    return tables[key].rows


def test_pages_per_rotation_by_month(pages, secret_page):
    rows = _rows("pages_per_rotation", commander_user())

    assert rows == [
        ["Primary backup", 0, 1, 0, 1],
        ["Primary team", 2, 1, 0, 3],
        ["Secondary team", 1, 0, 0, 1],
        [f"{pages['contact_label']} (escalation contact)", 0, 0, 1, 1],
        ["Nobody paged", 0, 0, 1, 1],
        ["Not on a rotation", 0, 0, 1, 1],
    ]


def test_pages_per_person_by_month(pages, secret_page):
    rows = _rows("pages_per_person", commander_user())

    assert rows == [
        ["alice", 1, 0, 1, 2],
        ["bob", 1, 0, 0, 1],
        ["carol", 0, 1, 0, 1],
        ["dave", 1, 0, 0, 1],
        ["eve", 0, 1, 0, 1],
        ["frank", 0, 0, 1, 1],
        ["Nobody paged", 0, 0, 1, 1],
    ]


def test_security_member_sees_security_pages(pages, secret_page):
    user = security_user()

    by_rotation = {row[0]: row[1:] for row in _rows("pages_per_rotation", user)}
    by_person = {row[0]: row[1:] for row in _rows("pages_per_person", user)}

    # Alice is on call for "Primary team" in the week of 1 February, when the secret page came.
    assert by_rotation["Primary team"] == [2, 2, 0, 4]
    assert by_person["alice"] == [1, 1, 1, 3]


def test_outsider_report_leaves_out_security_incidents(people):
    with time_machine.travel(_at(2, 1, 9), tick=False):
        mark_security_incident()
        declare_incident(impact=Level.HIGH, urgency=Level.HIGH)

    outsider_total = sum(row[-1] for row in _rows("incidents", commander_user()))
    member_total = sum(row[-1] for row in _rows("incidents", security_user()))

    assert outsider_total == 1
    assert member_total == 2
