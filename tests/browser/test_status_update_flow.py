import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import sync_playwright

from incidents.models import Incident
from tests.communications.factories import declare_sev1
from tests.conftest import CHROMIUM_PATH
from tests.incidents.factories import ServiceFactory, commander_user

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.browser
def test_commander_clears_overdue_update(live_server):
    commander = commander_user(username="ic")
    api = ServiceFactory(name="API", slug="api")
    incident = declare_sev1(
        actor=commander, commander=commander, services=[api], title="Checkout errors"
    )
    Incident.objects.filter(pk=incident.pk).update(
        next_update_due_at=timezone.now() - datetime.timedelta(minutes=4)
    )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "ic")
        page.fill("#id_password", "password")
        page.click("button[type=submit]")
        overdue_section = page.locator("#updates-overdue")
        overdue_before = overdue_section.count()
        overdue_text = page.locator("main").inner_text()

        page.click(f"#updates-overdue + ul a[href$='/incidents/{incident.pk}/#updates']")
        prefilled = page.input_value("#id_body")
        page.click("#update-form button[type=submit]")
        page.goto(f"{live_server.url}/")
        overdue_after = page.locator("#updates-overdue").count()
        page.goto(f"{live_server.url}/status/")
        status_text = page.locator("main").inner_text()
        browser.close()

    assert overdue_before == 1
    assert "OVERDUE" in overdue_text
    assert prefilled.startswith("We are investigating reports of Checkout errors.")
    assert overdue_after == 0
    assert "We are investigating reports of Checkout errors." in status_text
