import re

import pytest

from notifications.models import Channel, Message
from tests.conftest import CHROMIUM_PATH
from tests.paging.factories import contact_holders_set, declare_sev1, on_call_people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_engineer_acknowledges_from_notification(live_server, monkeypatch, settings):
    from playwright.sync_api import sync_playwright

    people = on_call_people()
    contact_holders_set(people)
    engineer = people["primary"]
    engineer.first_name, engineer.last_name = "Pat", "Primary"
    engineer.save()
    monkeypatch.setattr(
        "oncall.selectors.layer_on_call_get", lambda *, layer, at, severity=None: people[layer]
    )
    settings.PORTAL_BASE_URL = live_server.url
    incident = declare_sev1(title="Checkout API down")
    email = Message.objects.get(incident=incident, channel=Channel.EMAIL, recipient=engineer)
    link = re.search(r"Acknowledge: (\S+)", email.body).group(1)
    # Playwright runs an event loop in this thread, so Django's async guard is lifted here, after
    # the test's own database work.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(link)
        page.get_by_role("button", name=f"Acknowledge {incident.reference} as primary").click()
        confirmation = page.get_by_role("status").inner_text()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "primary")
        page.fill("#id_password", "password")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}{incident.get_absolute_url()}")
        acknowledged = page.locator("#acknowledged-by").inner_text()
        browser.close()

    incident.refresh_from_db()
    when = incident.acknowledged_at.strftime("%Y-%m-%d %H:%M UTC")
    assert f"{incident.reference} is acknowledged at {when}" in confirmation
    assert f"Acknowledged by Pat Primary at {when} via Link in a notification" in acknowledged
