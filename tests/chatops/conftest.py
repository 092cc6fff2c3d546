import pytest

from tests.chatops.factories import BOT_TOKEN, SIGNING_SECRET, SlackMock


@pytest.fixture(autouse=True)
def slack_settings(settings):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_BOT_TOKEN = ""
    return settings


@pytest.fixture
def slack_api(settings):
    """A local mock of Slack's Web API, with the bot token and base URL pointing at it."""
    with SlackMock() as mock:
        settings.SLACK_BOT_TOKEN = BOT_TOKEN
        settings.SLACK_API_BASE_URL = mock.api_url
        yield mock
