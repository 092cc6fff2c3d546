import datetime


def format_duration(duration: datetime.timedelta | None, *, empty: str = "not set") -> str:
    """Write a duration the way the policy does: "15 minutes", "2 hours", "1 hour 30 minutes"."""
    if duration is None:
        return empty
    total_minutes = int(duration.total_seconds() // 60)
    if total_minutes <= 0:
        return "0 minutes"
    days, remainder = divmod(total_minutes, 24 * 60)
    hours, minutes = divmod(remainder, 60)
    parts = []
    for value, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")):
        if value:
            parts.append(f"{value} {unit}{'' if value == 1 else 's'}")
    return " ".join(parts)
