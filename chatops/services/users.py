"""Matching Slack members to portal users through their Slack contact method or email."""

import logging

from django.contrib.auth import get_user_model

from notifications.models import Channel, ContactMethod

from .. import slack
from ..slack import SlackCallError

logger = logging.getLogger(__name__)


def slack_member_user_get(*, slack_user_id: str, lookup: bool = True):
    """Return the active portal user behind a Slack member ID, or None when there is none.

    A Slack contact method with that ID decides first. Otherwise, with `lookup` and a bot token,
    Slack's users.info gives the member's email, and a single active user with that email is
    linked by storing the ID as their Slack contact method. Raises SlackCallError when that call
    fails.
    """
    User = get_user_model()
    linked = list(
        User.objects.filter(
            is_active=True,
            contact_methods__channel=Channel.SLACK,
            contact_methods__address=slack_user_id,
        ).distinct()[:2]
    )
    if len(linked) > 1:
        logger.warning("Slack member %s is linked to several users; matching none", slack_user_id)
        return None
    if linked:
        return linked[0]
    if not lookup or slack.missing_configuration() is not None:
        return None
    try:
        data = slack.call("users.info", user=slack_user_id)
    except SlackCallError as error:
        if error.code in ("user_not_found", "users_not_found"):
            return None
        raise
    profile = data.get("user", {}).get("profile", {})
    email = profile.get("email", "")
    if not email:
        logger.info("Slack member %s has no email visible to the app", slack_user_id)
        return None
    matches = list(User.objects.filter(email__iexact=email, is_active=True)[:2])
    if len(matches) != 1:
        logger.info("Slack member %s matches %s active users by email", slack_user_id, len(matches))
        return None
    ContactMethod.objects.get_or_create(
        user=matches[0], channel=Channel.SLACK, address=slack_user_id
    )
    logger.info("Linked Slack member %s to user %s by email", slack_user_id, matches[0].pk)
    return matches[0]


def slack_member_id_get(*, user) -> str:
    """Return the user's Slack member ID, looked up by email and stored when not linked yet.

    Returns "" when Slack has no member with the user's email.
    """
    method = (
        ContactMethod.objects.filter(user=user, channel=Channel.SLACK)
        .order_by("position", "id")
        .first()
    )
    if method is not None:
        return method.address
    if not user.email:
        return ""
    try:
        data = slack.call("users.lookupByEmail", email=user.email)
    except SlackCallError as error:
        if error.code == "users_not_found":
            return ""
        raise
    member_id = data["user"]["id"]
    ContactMethod.objects.get_or_create(user=user, channel=Channel.SLACK, address=member_id)
    return member_id
