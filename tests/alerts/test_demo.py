"""The demo payloads' times are moved to just before the moment the demo loads."""

import datetime

from alerts.demo import DEMO_ALERT_AGE, DEMO_PAYLOADS, demo_times_shift
from alerts.senders import parse

NOW = datetime.datetime(2026, 12, 4, 9, 30, tzinfo=datetime.UTC)


def _shifted_events(kind: str, file_name: str) -> list:
    text = (DEMO_PAYLOADS / file_name).read_text(encoding="utf-8")
    body = demo_times_shift(text, now=NOW).encode()
    return parse(kind, body, {"content-type": "application/json"}).events


def test_times_shift_puts_latest_start_just_before_now():
    events = _shifted_events("alertmanager", "alertmanager-firing.json")

    assert events[0].starts_at.replace(microsecond=0) == NOW - DEMO_ALERT_AGE


def test_times_shift_keeps_zero_ends_at():
    events = _shifted_events("alertmanager", "alertmanager-firing.json")

    assert events[0].ends_at is None


def test_times_shift_moves_millisecond_epochs():
    events = _shifted_events("datadog", "datadog-triggered.json")

    assert events[0].starts_at == NOW - DEMO_ALERT_AGE


def test_times_shift_keeps_offset_form():
    text = '{"a": "2025-06-18T10:01:12.345+0000", "b": "2025-06-18T10:06:12.345+0000"}'

    shifted = demo_times_shift(text, now=NOW)

    assert shifted == '{"a": "2026-12-04T09:20:00.345+0000", "b": "2026-12-04T09:25:00.345+0000"}'
