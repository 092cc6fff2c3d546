"""CloudWatch alarms delivered by Amazon SNS over HTTP(S).

SNS posts its own envelope as text/plain JSON: a SubscriptionConfirmation first, whose
SubscribeURL must be fetched to start deliveries, then Notifications whose Message is the alarm
as a JSON string.

NOTE: SNS message signatures (Signature, SigningCertURL) are not verified; the token in the
address is what authenticates a request.
"""

import json
from urllib.parse import quote

from .base import (
    AlertEvent,
    Errors,
    ParseResult,
    bounded_identity,
    join,
    link,
    load_json,
    require_object,
    string,
    timestamp,
)

CONSOLE_URL = "https://console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"
MESSAGE_TYPES = ("SubscriptionConfirmation", "Notification", "UnsubscribeConfirmation")
ALARM_STATES = {"ALARM": "firing", "OK": "resolved"}


def parse_cloudwatch(body: bytes, headers: dict) -> ParseResult:
    errors = Errors()
    envelope = require_object(load_json(body), "body", errors)
    errors.raise_if_any()
    message_type = string(envelope, "Type", "", errors, required=True)
    if message_type and message_type not in MESSAGE_TYPES:
        errors.add("Type", f"{message_type!r} is not one of {', '.join(MESSAGE_TYPES)}.")
    topic_arn = string(envelope, "TopicArn", "", errors, required=True, max_length=255)
    if message_type == "SubscriptionConfirmation":
        subscribe_url = string(envelope, "SubscribeURL", "", errors, required=True)
        errors.raise_if_any()
        return ParseResult(
            sns={"type": message_type, "topic_arn": topic_arn, "subscribe_url": subscribe_url},
            notes=[f"SNS asked to confirm the subscription to {topic_arn}."],
        )
    if message_type == "UnsubscribeConfirmation":
        errors.raise_if_any()
        return ParseResult(notes=[f"SNS confirmed the end of the subscription to {topic_arn}."])
    message_text = string(envelope, "Message", "", errors, required=True)
    errors.raise_if_any()
    try:
        alarm = json.loads(message_text)
    except json.JSONDecodeError:
        errors.add("Message", "is not JSON; expected a CloudWatch alarm.")
        errors.raise_if_any()
    alarm = require_object(alarm, "Message", errors)
    errors.raise_if_any()
    return _alarm(alarm, errors)


def _alarm(alarm: dict, errors: Errors) -> ParseResult:
    name = string(alarm, "AlarmName", "Message", errors, required=True, max_length=255)
    state = string(alarm, "NewStateValue", "Message", errors, required=True)
    changed_at = timestamp(alarm, "StateChangeTime", "Message", errors, required=True)
    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), dict) else {}
    labels = {
        key: str(alarm[key])
        for key in ("AWSAccountId", "Region")
        if alarm.get(key) not in (None, "")
    }
    for key in ("Namespace", "MetricName"):
        if trigger.get(key):
            labels[key] = str(trigger[key])
    for index, dimension in enumerate(trigger.get("Dimensions") or []):
        if not isinstance(dimension, dict) or "name" not in dimension:
            errors.add(join("Message.Trigger.Dimensions", index), "must have a name and value.")
            continue
        labels[str(dimension["name"])] = str(dimension.get("value", ""))
    errors.raise_if_any()
    status = ALARM_STATES.get(state)
    if status is None:
        return ParseResult(notes=[f"Ignored CloudWatch state {state!r} of alarm {name!r}."])
    identity = (
        alarm.get("AlarmArn") or f"{labels.get('AWSAccountId')}:{labels.get('Region')}:{name}"
    )
    event = AlertEvent(
        identity=bounded_identity(str(identity)),
        status=status,
        title=str(alarm.get("AlarmDescription") or name)[:255],
        name=name,
        description=str(alarm.get("NewStateReason") or ""),
        service=labels.get("service", ""),
        labels=labels,
        annotations={"NewStateReason": str(alarm.get("NewStateReason") or "")},
        links=_console_links(name, _region_code(str(alarm.get("AlarmArn") or ""))),
        starts_at=changed_at if status == "firing" else None,
        occurred_at=changed_at,
    )
    return ParseResult(events=[event])


def _region_code(arn: str) -> str:
    """Return the region code of an ARN (arn:aws:cloudwatch:eu-central-1:...), or ""."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _console_links(name: str, region: str) -> list[dict]:
    if not region:
        return []
    href = CONSOLE_URL.format(region=quote(region), name=quote(name))
    return [link(href, "CloudWatch alarm")]
