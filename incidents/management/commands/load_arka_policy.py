from importlib import import_module

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from arka_portal.groups import ADMIN_APPS, GROUP_PERMISSIONS
from arka_portal.policy.loader import POLICY_PATH, PolicyLoadReport, read_policy

# Apps that load a part of the policy, each through `<app>.policy.load_policy(policy, report)`.
POLICY_APPS = ["incidents", "oncall", "postmortems", "security", "runbooks"]


class Command(BaseCommand):
    help = (
        "Load the ARKA incident-response policy into the database and create the user groups. "
        "Safe to run again: rows edited in the admin since the last load are kept and listed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file",
            default=str(POLICY_PATH),
            help="Policy YAML file to load (default: %(default)s).",
        )

    def handle(self, *args, **options):
        from pathlib import Path

        policy = read_policy(Path(options["file"]))
        report = PolicyLoadReport()
        with transaction.atomic():
            for app in POLICY_APPS:
                try:
                    module = import_module(f"{app}.policy")
                except ModuleNotFoundError:
                    continue
                module.load_policy(policy, report)
            groups = groups_ensure()
            schedules = beat_schedule_ensure()
        self.stdout.write(f"ARKA policy {policy['version']} from {options['file']}:")
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(f"groups: {', '.join(groups)}")
        for line in schedules:
            self.stdout.write(line)


def groups_ensure() -> list[str]:
    """Create the portal's groups and set exactly their permissions."""
    for name, permission_names in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        condition = Q(pk__in=[])
        for permission_name in permission_names:
            app_label, codename = permission_name.split(".")
            condition |= Q(content_type__app_label=app_label, codename=codename)
        if name == "Admins":
            condition |= Q(content_type__app_label__in=ADMIN_APPS)
        group.permissions.set(Permission.objects.filter(condition))
    return list(GROUP_PERMISSIONS)


def beat_schedule_ensure() -> list[str]:
    """Create a django-celery-beat entry for each of CELERY_BEAT_DEFAULTS that is missing.

    An existing entry is left as it is, so a schedule an admin changed stays changed.
    """
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    lines = []
    for task_name, entry in settings.CELERY_BEAT_DEFAULTS.items():
        if PeriodicTask.objects.filter(name=task_name).exists():
            lines.append(f"periodic task {task_name}: kept")
            continue
        schedule = entry["schedule"]
        if isinstance(schedule, dict):
            crontab, _ = CrontabSchedule.objects.get_or_create(
                **schedule, timezone=settings.TIME_ZONE
            )
            PeriodicTask.objects.create(
                name=task_name, task=task_name, crontab=crontab, description=entry["why"]
            )
        else:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=schedule, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(
                name=task_name, task=task_name, interval=interval, description=entry["why"]
            )
        lines.append(f"periodic task {task_name}: created")
    return lines
