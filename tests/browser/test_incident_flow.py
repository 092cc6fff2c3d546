"""An incident commander runs an incident end to end in the browser."""

import pytest

from incidents.models import Incident, TimelineEntry
from tests.browser.conftest import log_in
from tests.incidents.factories import commander_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_commander_runs_incident_end_to_end(live_server, browser_page):
    page = browser_page
    commander = commander_user(username="ines")
    log_in(page, live_server, "ines")

    page.click("text=Declare incident")
    page.fill("#id_title", "Checkout requests failing")
    page.fill("#id_description", "Half of the checkout requests return 502.")
    page.check("input[name=impact][value=high]")
    page.check("input[name=urgency][value=medium]")
    assert "Suggested: SEV-2" in page.inner_text("#severity-suggestion")
    page.select_option("#id_commander", value="")
    page.click("form#declare-form button[type=submit]")
    page.wait_for_selector("#receipt-heading")
    incident = Incident.objects.get()
    assert incident.severity.key == "SEV-2"

    page.select_option("#id_role", label="Incident Commander (IC)")
    page.select_option("#id_user", value=str(commander.pk))
    page.click("text=Assign role")
    page.wait_for_selector("text=Role assigned.")

    page.click("text=Move to Triage")
    page.check("input[name=confirm_skip]")
    page.click("text=Move to Triage")
    page.wait_for_selector("text=Phase changed.")
    page.click("button:has-text('Tick “Assign severity level')")
    page.wait_for_selector("text=Checklist updated.")

    page.select_option("#id_status", "investigating")
    body = page.input_value("#id_body")
    assert "We are investigating reports of Checkout requests failing" in body
    page.click("text=Post update")
    page.wait_for_selector("text=Status update posted.")

    page.click("text=Move to Respond")
    page.check("input[name=confirm_skip]")
    page.click("text=Move to Respond")
    page.wait_for_selector("text=Phase changed.")
    page.click("text=Resolve incident")
    page.check("input[name=confirm_skip]")
    page.click("text=Resolve incident")
    page.wait_for_selector("text=Phase changed.")

    timeline = page.inner_text("#timeline")
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert "Declared SEV-2 (Major): Checkout requests failing" in timeline
    assert "ines assigned as Incident Commander (IC)" in timeline
    assert "Ticked Triage item: Assign severity level (SEV-1 to SEV-4)" in timeline
    assert "Posted public update: Investigating" in timeline
    assert "Phase changed from Respond to Resolve" in timeline
    assert "Resolved after" in timeline
    kinds = set(incident.timeline.values_list("kind", flat=True))
    assert TimelineEntry.Kind.RESOLVED in kinds
