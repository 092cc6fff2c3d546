import zoneinfo

from django.utils import timezone

UTC = zoneinfo.ZoneInfo("UTC")


class ViewerTimeZoneMiddleware:
    """Activate the signed-in viewer's time zone from their profile; UTC for everyone else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = UTC
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            profile = getattr(user, "profile", None) if _has_profile(user) else None
            if profile is not None:
                zone = profile.time_zone
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _has_profile(user) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        user.profile  # noqa: B018
    except ObjectDoesNotExist:
        return False
    return True
