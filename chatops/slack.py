"""The Slack Web API client and how its errors are classified for retries.

The client never retries by itself: a rate-limited or failed call becomes a stored due time on the
operation's row, so a retry survives a worker restart.
"""

import datetime

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

HTTP_TIMEOUT_SECONDS = 10
# Slack error codes that a later try can fix; others need a person (token, scope, channel).
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}
ERROR_HINTS = {
    "not_authed": "set SLACK_BOT_TOKEN to the app's bot token",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid; copy the bot token again",
    "account_inactive": "the bot token belongs to a deleted app or user",
    "not_in_channel": "invite the portal's bot to the channel",
    "is_archived": "the channel is archived; unarchive it in Slack",
}


class SlackCallError(Exception):
    """A failed Web API call; `retry_after` is set for errors worth another try."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def missing_configuration() -> str | None:
    """Return why channel operations cannot run, or None when a bot token is set."""
    if not settings.SLACK_BOT_TOKEN:
        return "Slack is not configured: set SLACK_BOT_TOKEN to the app's bot token."
    return None


def client() -> WebClient:
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_BASE_URL,
        timeout=HTTP_TIMEOUT_SECONDS,
        retry_handlers=[],
    )


def _retry_after_seconds(headers) -> float:
    for name in ("Retry-After", "retry-after"):
        value = (headers or {}).get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            try:
                return max(float(value), 0.0)
            except ValueError:
                break
    return 1.0


def call(method: str, **arguments) -> dict:
    """Call one Web API method and return its data; raise SlackCallError when it fails.

    A rate-limited call (HTTP 429) carries Slack's Retry-After as `retry_after`; server and
    network errors carry 0, so the caller backs off by its own schedule.
    """
    try:
        response = client().api_call(method, params=arguments)
    except SlackApiError as error:
        response = error.response
        code = response.get("error", "") if isinstance(response.data, dict) else ""
        if response.status_code == 429 or code == "ratelimited":
            delay = _retry_after_seconds(response.headers)
            raise SlackCallError(
                f"{method} was rate limited by Slack; retrying after {delay:g} s",
                code="ratelimited",
                retry_after=delay,
            ) from error
        if response.status_code >= 500 or code in TRANSIENT_ERRORS:
            raise SlackCallError(
                f"{method} failed with HTTP {response.status_code} {code}".rstrip(),
                code=code,
                retry_after=0,
            ) from error
        raise SlackCallError(_describe(method, code, response), code=code) from error
    except (SlackClientError, OSError) as error:
        raise SlackCallError(f"{method} failed: {error}", retry_after=0) from error
    return response.data


def _describe(method: str, code: str, response) -> str:
    if code == "missing_scope":
        needed = response.get("needed", "")
        return f"{method} failed: missing_scope; add the scope {needed} to the Slack app"
    hint = ERROR_HINTS.get(code)
    return f"{method} failed: {code or 'unknown error'}" + (f"; {hint}" if hint else "")


def retry_at(now: datetime.datetime, error: SlackCallError, attempts: int) -> datetime.datetime:
    """Return when to try again: Slack's Retry-After, else the doubling backoff."""
    if error.retry_after:
        return now + datetime.timedelta(seconds=error.retry_after)
    base = settings.CHATOPS_RETRY_BASE_SECONDS
    return now + datetime.timedelta(seconds=base * 2 ** max(attempts - 1, 0))
