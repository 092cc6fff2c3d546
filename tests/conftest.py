"""Shared fixtures. Tests marked postgres, redis or browser need that service: they skip with the
reason on a machine without it, and fail instead when CI=true, where every service must be there.
"""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.management import call_command

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _missing_service(item) -> str | None:
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/arka"
    if item.get_closest_marker("redis"):
        url = urlparse(settings.REDIS_URL)
        try:
            socket.create_connection((url.hostname, url.port or 6379), timeout=1).close()
        except OSError:
            return f"needs Redis at {url.hostname}:{url.port or 6379}: start redis-server"
    if item.get_closest_marker("browser") and not (
        os.path.exists(CHROMIUM_PATH) or shutil.which("chromium")
    ):
        return f"needs Chromium at {CHROMIUM_PATH}: apt-get install chromium"
    return None


def pytest_runtest_setup(item):
    reason = _missing_service(item)
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true but this test {reason}", pytrace=False)
    pytest.skip(reason)


def _load_policy():
    with open(os.devnull, "w") as devnull:
        call_command("load_arka_policy", stdout=devnull)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the policy once into the test database; each test's rollback keeps it there."""
    with django_db_blocker.unblock():
        _load_policy()


@pytest.fixture(autouse=True)
def arka_policy(request):
    """Make sure the ARKA policy is loaded for every test that uses the database."""
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names:
        request.getfixturevalue("db")
    elif request.node.get_closest_marker("django_db") is None:
        return
    from incidents.models import Severity

    # Transactional tests empty the tables when they end, so load the policy again if it is gone.
    if not Severity.objects.exists():
        _load_policy()
