"""Signed one-click acknowledgement links, bound to one incident and the person paged for it."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents.models import Incident

SALT = "paging.acknowledge-link"


def acknowledge_token_make(*, incident: Incident, user) -> str:
    return signing.dumps({"incident": incident.pk, "user": user.pk}, salt=SALT, compress=True)


def acknowledge_url_make(*, incident: Incident, user) -> str:
    """Return the absolute acknowledgement link to put in a page sent to `user`."""
    token = acknowledge_token_make(incident=incident, user=user)
    return settings.PORTAL_BASE_URL + reverse("paging:acknowledge_link", args=[token])


def acknowledge_token_read(token: str) -> tuple[Incident, object]:
    """Return the incident and the paged person a link was made for.

    Raises ValidationError when the link was altered, has expired or names a deactivated person.
    """
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.PAGING_ACKNOWLEDGE_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError(
            "This acknowledgement link has expired; open the incident in the portal and press "
            "Acknowledge there.",
            code="expired",
        ) from None
    except signing.BadSignature:
        raise ValidationError(
            "This acknowledgement link is invalid; copy the whole link from the page you got, "
            "or acknowledge in the portal.",
            code="invalid",
        ) from None
    incident = Incident.objects.select_related("severity").filter(pk=data["incident"]).first()
    user = get_user_model().objects.filter(pk=data["user"], is_active=True).first()
    if incident is None or user is None:
        raise ValidationError(
            "The incident or the person this link was made for no longer exists.", code="invalid"
        )
    return incident, user
