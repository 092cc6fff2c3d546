"""A manager walks the weekly review in a real browser: reassign an overdue item, mark it done."""

import datetime

import pytest
from django.utils import timezone

from postmortems import reviews
from postmortems.models import WeeklyReview
from tests.conftest import CHROMIUM_PATH
from tests.incidents.factories import UserFactory
from tests.postmortems.factories import ActionItemFactory, manager_user

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.browser
def test_manager_reassigns_overdue_item_and_completes_review(live_server):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    manager = manager_user(username="manager-browser")
    new_owner = UserFactory(username="new-owner", first_name="Nia", last_name="Owner")
    overdue = ActionItemFactory(
        title="Rotate the webhook secret",
        due_date=timezone.localdate() - datetime.timedelta(days=4),
    )
    review, _ = reviews.weekly_review_start()
    row = f"#item-{overdue.pk}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", manager.username)
        page.fill("#id_password", "password")
        page.click("button[type=submit]")
        page.goto(live_server.url + review.get_absolute_url())
        overdue_text = page.inner_text(row)
        page.select_option(f"{row} select[name$=owner]", str(new_owner.pk))
        page.fill(f"{row} input[name$=comment]", "Nia takes it over")
        page.click(f"{row} button[type=submit]")
        saved_message = page.inner_text(".messages")
        page.fill("#id_notes", "Walked every overdue item.")
        page.click("text=Mark review done")
        done_header = page.inner_text("header.incident-header")
        browser.close()

    overdue.refresh_from_db()
    assert "overdue 4 days" in overdue_text
    assert "Saved Rotate the webhook secret" in saved_message
    assert overdue.owner == new_owner
    assert overdue.changes.get().comment == "Nia takes it over"
    assert "Done" in done_header
    assert WeeklyReview.objects.get().completed_by == manager
