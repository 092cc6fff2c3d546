import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import reverse


def require_permission(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to a group that has it."
        )


def absolute_url(name: str, *args) -> str:
    return settings.PORTAL_BASE_URL + reverse(name, args=args)


def utc_text(moment: datetime.datetime | None) -> str:
    if moment is None:
        return "—"
    return f"{moment.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC"
