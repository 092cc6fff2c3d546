"""Playwright driving the system Chromium against pytest-django's live server."""

import os

import pytest

from tests.conftest import CHROMIUM_PATH

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page(request, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API keeps an event loop running in the test's thread, which makes
    # Django refuse database calls from that thread unless this is set. The calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(15_000)
        page = context.new_page()
        yield page
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            os.makedirs("test-artifacts", exist_ok=True)
            page.screenshot(path=f"test-artifacts/{request.node.name}.png", full_page=True)
        context.close()
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def log_in(page, live_server, username: str, password: str = "password") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
