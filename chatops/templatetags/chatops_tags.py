from collections import Counter

from django import template

from chatops.models import ChannelOperation

register = template.Library()


@register.simple_tag
def channel_operation_summary(operations) -> dict:
    """Count the operations by status, for the heading of the incident page's Slack section."""
    operations = list(operations)
    counts = Counter(operation.status for operation in operations)
    parts = [
        f"{counts[status]} {label.lower()}"
        for status, label in ChannelOperation.Status.choices
        if counts[status]
    ]
    create = next((item for item in operations if item.kind == ChannelOperation.Kind.CREATE), None)
    return {
        "text": ", ".join(parts),
        "needs_attention": bool(counts[ChannelOperation.Status.FAILED])
        or bool(counts[ChannelOperation.Status.PENDING]),
        "create": create,
    }
