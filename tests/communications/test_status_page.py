import datetime
import json
import xml.etree.ElementTree as ET

import pytest
import time_machine
from django.urls import reverse

from communications import selectors
from incidents import services as incident_services
from incidents.models import Phase, UpdateStatus
from tests.communications.factories import declare_sev1, public_update_post
from tests.incidents.factories import (
    CustomerFactory,
    ServiceFactory,
    commander_user,
    declare_incident,
)
from tests.security.factories import mark_security_incident

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"
START = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def commander():
    return commander_user(username="zquartermain", first_name="Zelda", last_name="Quartermain")


@pytest.fixture
def api():
    return ServiceFactory(name="API", slug="api")


@pytest.fixture
def incident(commander, api):
    customer = CustomerFactory(name="Wonka Industries", is_enterprise=True)
    incident = declare_sev1(
        actor=commander, commander=commander, services=[api], customers=[customer]
    )
    public_update_post(incident, commander, body="We are investigating failed API requests.")
    return incident


def _all_public_output(client, incident) -> str:
    pages = [
        reverse("communications:status"),
        reverse("communications:status_incident", args=[incident.pk]),
        reverse("communications:status_feed"),
        reverse("communications:status_summary"),
    ]
    return "".join(client.get(page).content.decode() for page in pages)


def test_status_page_needs_no_login(client, incident):
    response = client.get(reverse("communications:status"))

    assert response.status_code == 200
    assert "We are investigating failed API requests." in response.content.decode()


def test_status_page_names_time_zone(client, incident):
    response = client.get(reverse("communications:status"))

    assert "All times in UTC" in response.content.decode()


def test_component_state_in_words(client, incident):
    ServiceFactory(name="Billing", slug="billing")

    page = selectors.status_page_get()

    states = {component["name"]: component["state"] for component in page["components"]}
    assert states == {"API": "Major outage", "Billing": "Operational"}
    assert page["banner"]["text"] == "Major outage"


def test_public_update_shows_on_next_request(
    client, incident, commander, django_capture_on_commit_callbacks
):
    client.get(reverse("communications:status"))

    with django_capture_on_commit_callbacks(execute=True):
        public_update_post(incident, commander, body="A fix is being deployed now.")
    response = client.get(reverse("communications:status"))

    assert "A fix is being deployed now." in response.content.decode()


def test_updates_newest_first(client, incident, commander):
    public_update_post(incident, commander, body="Second update text.")

    body = client.get(reverse("communications:status")).content.decode()

    assert body.index("Second update text.") < body.index("We are investigating failed")


def test_internal_update_never_shown(client, incident, commander):
    public_update_post(incident, commander, body="Internal: db-7 disk full", is_public=False)

    output = _all_public_output(client, incident)

    assert "db-7 disk full" not in output


def test_people_never_shown(client, incident):
    output = _all_public_output(client, incident)

    assert "Zelda" not in output
    assert "Quartermain" not in output
    assert "zquartermain" not in output


def test_customer_names_never_shown(client, incident):
    output = _all_public_output(client, incident)

    assert "Wonka" not in output


def test_incident_without_public_update_hidden(client, commander):
    private = declare_sev1(actor=commander, commander=commander, title="Quiet trouble")

    output = client.get(reverse("communications:status")).content.decode()
    detail = client.get(reverse("communications:status_incident", args=[private.pk]))

    assert "Quiet trouble" not in output
    assert detail.status_code == 404


def test_security_incident_hidden(client, incident):
    mark_security_incident(incident=incident)

    output = _all_public_output(client, incident)

    assert incident.title not in output


def test_private_component_hidden(client, commander):
    internal = ServiceFactory(name="Internal queue", slug="internal-queue", is_public=False)
    incident = declare_sev1(actor=commander, commander=commander, services=[internal])
    public_update_post(incident, commander)

    output = _all_public_output(client, incident)

    assert "Internal queue" not in output


def test_resolved_incident_listed_until_history_ends(client, commander):
    with time_machine.travel(START, tick=False):
        incident = declare_incident(actor=commander, commander=commander, title="Old outage")
        public_update_post(incident, commander)
        for phase in (Phase.TRIAGE, Phase.RESPOND, Phase.RESOLVE):
            incident_services.incident_phase_change(
                actor=commander, incident=incident, phase=phase, confirm_skip=True
            )

    within = selectors._status_page_build(START + datetime.timedelta(days=89))
    after = selectors._status_page_build(START + datetime.timedelta(days=91))

    assert [i["title"] for i in within["resolved_incidents"]] == ["Old outage"]
    assert after["resolved_incidents"] == []


def test_feed_is_atom(client, incident, commander):
    public_update_post(incident, commander, body="Identified.", status=UpdateStatus.IDENTIFIED)

    response = client.get(reverse("communications:status_feed"))

    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own output, parsed in a test
    assert root.tag == f"{ATOM}feed"
    for element in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{element}") is not None, element
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2
    for entry in entries:
        for element in ("id", "title", "updated", "link"):
            assert entry.find(f"{ATOM}{element}") is not None, element
    assert entries[0].find(f"{ATOM}title").text.startswith("[Identified]")


def test_json_summary(client, incident):
    response = client.get(reverse("communications:status_summary"))

    body = json.loads(response.content)
    assert body["status"] == {"operational": False, "description": "Major outage"}
    assert body["open_incidents"][0]["updates"][0]["body"].startswith("We are investigating")
    assert body["time_zone"] == "UTC"


def test_status_page_query_count_constant(client, commander, api, django_assert_num_queries):
    first = declare_sev1(actor=commander, commander=commander, services=[api])
    public_update_post(first, commander)
    url = reverse("communications:status")
    with django_assert_num_queries(5):
        client.get(url)
    for number in range(3):
        other = declare_sev1(actor=commander, commander=commander, title=f"Outage {number}")
        public_update_post(other, commander)
    selectors.status_page_get.__globals__["cache"].clear()

    with django_assert_num_queries(5):
        client.get(url)


def test_cached_status_page_needs_no_query(client, incident, django_assert_num_queries):
    url = reverse("communications:status")
    client.get(url)

    with django_assert_num_queries(0):
        client.get(url)
