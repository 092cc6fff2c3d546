"""The weekly review's default schedule, read from the policy file without Django.

Settings import this module to build the beat defaults, before any app is loaded.
"""

import datetime
from pathlib import Path

import yaml

POLICY_PATH = Path(__file__).resolve().parent.parent / "arka_portal" / "policy" / "arka.yaml"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def weekly_review_crontab(path: Path = POLICY_PATH) -> dict:
    """Return the policy's weekly review time as django-celery-beat CrontabSchedule fields.

    The crontab runs in settings.TIME_ZONE (UTC); a review zone other than UTC in the policy
    needs the crontab's timezone set to the same zone in the admin.
    """
    with path.open(encoding="utf-8") as policy_file:
        schedule = yaml.safe_load(policy_file)["weekly_review_schedule"]
    time = datetime.time.fromisoformat(schedule["time"])
    # Cron counts weekdays from Sunday = 0; the policy names them.
    cron_weekday = (WEEKDAYS.index(schedule["day_of_week"]) + 1) % 7
    return {
        "minute": str(time.minute),
        "hour": str(time.hour),
        "day_of_week": str(cron_weekday),
        "day_of_month": "*",
        "month_of_year": "*",
    }
