import datetime

from django import template

register = template.Library()


@register.filter
def overdue_days(item, today: datetime.date) -> int:
    """Days the open action item is past its due date on `today`; 0 when on time or closed."""
    return item.overdue_days(today)
