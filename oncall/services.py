"""Writes for rotations, overrides, profiles and shift notices.

A change that can move someone's future shifts (a rotation's timing or members, an override)
runs inside `shift_changes_notified`, which compares the shifts before and after and messages
each person whose shifts moved. The admin uses the same helper.
"""

import contextlib
import datetime
import logging
import uuid
from collections.abc import Iterable, Sequence
from operator import itemgetter

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from notifications.models import Channel, ContactMethod
from notifications.services import message_queue_for_user

from . import selectors
from .models import (
    Override,
    Profile,
    Rotation,
    RotationMember,
    ShiftNotice,
    ShiftNoticeRule,
    feed_token_new,
)

logger = logging.getLogger(__name__)

# Future shifts compared when an edit may move them: as far ahead as the schedule page shows.
SHIFT_CHANGE_HORIZON = datetime.timedelta(weeks=selectors.SCHEDULE_WEEKS)
# Channels for the message that a person's shifts moved.
SHIFT_CHANGE_CHANNELS = (Channel.EMAIL, Channel.SLACK)
# A handoff notice later than this after the handoff is stale, so a sweep that was stopped
# longer than this sends none for the handoffs it missed.
HANDOFF_NOTICE_LATE_LIMIT = datetime.timedelta(hours=1)


def _require_permission(actor, permission: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(permission):
        raise PermissionDenied(
            f"{actor.get_username()} lacks the permission {permission!r}; "
            "ask an admin to add you to a group that has it."
        )


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _user_zone(user):
    profile = Profile.objects.filter(user=user).first()
    return profile.time_zone if profile is not None else datetime.UTC


def _format_at(value: datetime.datetime, zone) -> str:
    local = value.astimezone(zone)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


# Shift changes


def future_shifts_get(
    *, rotations: Sequence[Rotation], now: datetime.datetime | None = None
) -> dict[int, list[selectors.Shift]]:
    """Return each saved rotation's shifts from now to the change horizon, read afresh."""
    now = now or timezone.now()
    rotations = [rotation for rotation in rotations if rotation.pk is not None]
    fresh = list(
        selectors.rotation_list(active_only=False).filter(pk__in=[r.pk for r in rotations])
    )
    return selectors.shift_list_by_rotation(
        rotations=fresh, start=now, end=now + SHIFT_CHANGE_HORIZON
    )


def _by_user(shift_lists: Iterable[list[selectors.Shift]]) -> dict[tuple[int, int], list]:
    """Return the time each (user id, rotation id) is on call, as sorted (start, end) pairs."""
    spans: dict[tuple[int, int], list] = {}
    for shifts in shift_lists:
        for shift in shifts:
            spans.setdefault((shift.user.pk, shift.rotation.pk), []).append(
                (shift.start, shift.end)
            )
    return {key: sorted(value) for key, value in spans.items()}


def _subtract(spans: list, removed: list) -> list:
    """Return the parts of the `spans` intervals that no interval of `removed` covers."""
    result = []
    for start, end in spans:
        pieces = [(start, end)]
        for cut_start, cut_end in removed:
            next_pieces = []
            for piece_start, piece_end in pieces:
                if cut_end <= piece_start or cut_start >= piece_end:
                    next_pieces.append((piece_start, piece_end))
                    continue
                if piece_start < cut_start:
                    next_pieces.append((piece_start, cut_start))
                if cut_end < piece_end:
                    next_pieces.append((cut_end, piece_end))
            pieces = next_pieces
        result.extend(pieces)
    return result


@contextlib.contextmanager
def shift_changes_notified(*, rotations: Sequence[Rotation]):
    """Message each person whose future shifts in these rotations move during the block."""
    now = timezone.now()
    before = future_shifts_get(rotations=rotations, now=now)
    yield
    after = future_shifts_get(rotations=rotations, now=now)
    shift_changes_notify(before=before, after=after)


def shift_changes_notify(
    *, before: dict[int, list[selectors.Shift]], after: dict[int, list[selectors.Shift]]
) -> list[int]:
    """Message each person whose shifts differ between the two lists; returns their ids."""
    before_spans = _by_user(before.values())
    after_spans = _by_user(after.values())
    users = {
        shift.user.pk: shift.user
        for shifts in (*before.values(), *after.values())
        for shift in shifts
    }
    names = {
        shift.rotation.pk: shift.rotation.name
        for shifts in (*before.values(), *after.values())
        for shift in shifts
    }
    changed = []
    edit_key = uuid.uuid4().hex
    for user_id, user in users.items():
        removed, added = [], []
        for rotation_id, name in names.items():
            old = before_spans.get((user_id, rotation_id), [])
            new = after_spans.get((user_id, rotation_id), [])
            removed += [(name, *span) for span in _subtract(old, new)]
            added += [(name, *span) for span in _subtract(new, old)]
        if not removed and not added:
            continue
        zone = _user_zone(user)

        def describe(spans, zone=zone):
            return "\n".join(
                f"- {name}: {_format_at(start, zone)} to {_format_at(end, zone)}"
                for name, start, end in sorted(spans, key=itemgetter(1))
            )

        parts = ["Your on-call shifts changed."]
        if removed:
            parts.append(f"No longer on call:\n{describe(removed)}")
        if added:
            parts.append(f"Now on call:\n{describe(added)}")
        parts.append(f"My shifts: {settings.PORTAL_BASE_URL}{reverse('oncall:my_shifts')}")
        message_queue_for_user(
            user=user,
            channels=SHIFT_CHANGE_CHANNELS,
            subject="Your on-call shifts changed",
            body="\n\n".join(parts),
            dedup_key=f"oncall:shifts-changed:{edit_key}:{user_id}",
        )
        changed.append(user_id)
    if changed:
        logger.info("Told users %s that their shifts moved", changed)
    return changed


# Rotations and overrides


@transaction.atomic
def rotation_members_set(*, actor, rotation: Rotation, users: Sequence) -> list[RotationMember]:
    """Replace the rotation's members with `users`, who take shifts in that order."""
    _require_permission(actor, "oncall.change_rotation")
    if len({user.pk for user in users}) != len(users):
        raise ValidationError({"users": "A person can be in a rotation only once."})
    with shift_changes_notified(rotations=[rotation]):
        RotationMember.objects.filter(rotation=rotation).delete()
        members = RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=user, position=position)
            for position, user in enumerate(users, start=1)
        )
    logger.info("Set members of rotation %s to users %s", rotation.pk, [u.pk for u in users])
    return members


@transaction.atomic
def rotation_update(*, actor, rotation: Rotation, **fields) -> Rotation:
    """Change a rotation's fields (timing, layer, name, active) and tell whose shifts moved."""
    _require_permission(actor, "oncall.change_rotation")
    with shift_changes_notified(rotations=[rotation]):
        rotation = Rotation.objects.select_for_update().get(pk=rotation.pk)
        for name, value in fields.items():
            setattr(rotation, name, value)
        rotation.full_clean()
        rotation.save()
    return rotation


@transaction.atomic
def override_create(
    *,
    actor,
    rotation: Rotation,
    user,
    start: datetime.datetime,
    end: datetime.datetime,
    reason: str = "",
) -> Override:
    """Put `user` on call for the rotation from `start` to `end`, over any earlier override."""
    _require_permission(actor, "oncall.add_override")
    if end <= timezone.now():
        raise ValidationError({"end": "The override ends in the past; choose a later end."})
    if not user.is_active:
        raise ValidationError({"user": f"{user.get_username()} is deactivated."})
    override = Override(
        rotation=rotation,
        user=user,
        start=start,
        end=end,
        reason=reason.strip(),
        created_by=actor,
    )
    override.full_clean()
    with shift_changes_notified(rotations=[rotation]):
        override.save()
    logger.info(
        "Override %s on rotation %s for user %s by actor %s",
        override.pk,
        rotation.pk,
        user.pk,
        actor.pk if actor is not None else "system",
    )
    return override


@transaction.atomic
def override_delete(*, actor, override: Override) -> None:
    """Remove an override, giving its time back to the rotation."""
    _require_permission(actor, "oncall.delete_override")
    with shift_changes_notified(rotations=[override.rotation]):
        override.delete()


@transaction.atomic
def rotation_feed_token_rotate(*, actor, rotation: Rotation) -> Rotation:
    """Give the rotation's calendar feed a new secret address; the old one stops working."""
    _require_permission(actor, "oncall.rotate_feed_token")
    rotation.feed_token = feed_token_new()
    rotation.save(update_fields=["feed_token", "updated_at"])
    logger.info("Replaced the feed address of rotation %s", rotation.pk)
    return rotation


# Profiles and contact methods


def profile_get(*, user) -> Profile:
    """Return the person's profile, creating it with the defaults on first use."""
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def profile_feed_token_get(*, user) -> str:
    """Return the secret of the person's calendar feed, creating one on first use."""
    profile = profile_get(user=user)
    if not profile.feed_token:
        profile.feed_token = feed_token_new()
        profile.save(update_fields=["feed_token", "updated_at"])
    return profile.feed_token


def _require_self_or_permission(actor, user, permission: str) -> None:
    if actor is None or actor.pk == user.pk:
        return
    _require_permission(actor, permission)


@transaction.atomic
def profile_feed_token_rotate(*, actor, user) -> Profile:
    """Give the person's calendar feed a new secret address; the old one stops working."""
    _require_self_or_permission(actor, user, "oncall.change_profile")
    profile = profile_get(user=user)
    profile.feed_token = feed_token_new()
    profile.save(update_fields=["feed_token", "updated_at"])
    logger.info("Replaced the feed address of user %s", user.pk)
    return profile


@transaction.atomic
def profile_update(*, actor, user, time_zone) -> Profile:
    """Set the zone the person's pages show times in."""
    _require_self_or_permission(actor, user, "oncall.change_profile")
    profile = profile_get(user=user)
    profile.time_zone = time_zone
    profile.full_clean()
    profile.save(update_fields=["time_zone", "updated_at"])
    return profile


@transaction.atomic
def contact_method_save(
    *, actor, user, channel: str, address: str, position: int, method: ContactMethod | None = None
) -> ContactMethod:
    """Add a contact method to a person, or change `method` when given."""
    _require_self_or_permission(actor, user, "notifications.change_contactmethod")
    if method is not None and method.user_id != user.pk:
        raise PermissionDenied("That contact method belongs to someone else.")
    method = method or ContactMethod(user=user)
    method.channel = channel
    method.address = address.strip()
    method.position = position
    method.full_clean()
    method.save()
    return method


@transaction.atomic
def contact_method_delete(*, actor, method: ContactMethod) -> None:
    _require_self_or_permission(actor, method.user, "notifications.delete_contactmethod")
    method.delete()


# Shift notices


def _notice_once(*, rotation, user, shift_start, rule, role) -> ShiftNotice | None:
    """Insert the notice row, or return None when it was already sent."""
    try:
        with transaction.atomic():
            return ShiftNotice.objects.create(
                rotation=rotation, user=user, shift_start=shift_start, rule=rule, role=role
            )
    except IntegrityError:
        return None


def _notice_send(notice: ShiftNotice, *, subject: str, body: str) -> None:
    message_queue_for_user(
        user=notice.user,
        channels=notice.rule.channels,
        subject=subject,
        body=body,
        dedup_key=f"oncall:shift-notice:{notice.pk}",
    )


def _runs(shifts: Sequence[selectors.Shift]) -> list[tuple[selectors.Shift | None, list]]:
    """Group shifts into unbroken runs by one person, each with the shift before it."""
    runs = []
    for index, shift in enumerate(shifts):
        previous = shifts[index - 1] if index > 0 else None
        if (
            previous is not None
            and previous.end == shift.start
            and previous.user.pk == shift.user.pk
        ):
            runs[-1][1].append(shift)
        else:
            touching = previous if previous is not None and previous.end == shift.start else None
            runs.append((touching, [shift]))
    return runs


@transaction.atomic
def rotation_shift_notices_send(*, rotation: Rotation, now: datetime.datetime) -> int:
    """Send the rotation's due handoff and reminder notices, each once; returns how many."""
    rules = list(ShiftNoticeRule.objects.filter(is_active=True).order_by("lead_time"))
    if not rules:
        return 0
    handoff_rules = [rule for rule in rules if not rule.lead_time]
    reminder_rules = [rule for rule in rules if rule.lead_time]
    longest = max((rule.lead_time for rule in reminder_rules), default=datetime.timedelta(0))
    window_start = now - HANDOFF_NOTICE_LATE_LIMIT - datetime.timedelta(seconds=1)
    shifts = selectors.shift_list(rotation=rotation, start=window_start, end=now + longest)
    sent = 0
    zone_cache: dict[int, object] = {}

    def zone_of(user):
        if user.pk not in zone_cache:
            zone_cache[user.pk] = _user_zone(user)
        return zone_cache[user.pk]

    for previous, run in _runs(shifts):
        incoming = run[0].user
        start, end = run[0].start, run[-1].end
        if start <= window_start:
            continue
        if now - HANDOFF_NOTICE_LATE_LIMIT < start <= now:
            for rule in handoff_rules:
                sent += _handoff_notices(rotation, rule, start, end, incoming, previous, zone_of)
        elif start > now:
            # Only the closest due reminder goes out, so a shift added at short notice
            # does not also get the reminders meant for a week before.
            due = [rule for rule in reminder_rules if start - rule.lead_time <= now]
            if due:
                rule = due[0]
                notice = _notice_once(
                    rotation=rotation,
                    user=incoming,
                    shift_start=start,
                    rule=rule,
                    role=ShiftNotice.Role.INCOMING,
                )
                if notice is not None:
                    zone = zone_of(incoming)
                    _notice_send(
                        notice,
                        subject=f"On call for {rotation.name} from {_format_at(start, zone)}",
                        body=f"Your {rotation.layer.name.lower()} on-call shift for "
                        f"{rotation.name} starts {_format_at(start, zone)} and ends "
                        f"{_format_at(end, zone)}.",
                    )
                    sent += 1
    if sent:
        logger.info("Sent %s shift notices for rotation %s", sent, rotation.pk)
    return sent


def _handoff_notices(rotation, rule, start, end, incoming, previous, zone_of) -> int:
    sent = 0
    notice = _notice_once(
        rotation=rotation,
        user=incoming,
        shift_start=start,
        rule=rule,
        role=ShiftNotice.Role.INCOMING,
    )
    if notice is not None:
        zone = zone_of(incoming)
        handed_by = f" from {_person(previous.user)}" if previous is not None else ""
        _notice_send(
            notice,
            subject=f"You are on call for {rotation.name} now",
            body=f"You took over {rotation.name}{handed_by} at {_format_at(start, zone)}. "
            f"Your shift ends {_format_at(end, zone)}.",
        )
        sent += 1
    if previous is None or not rule.tells_outgoing:
        return sent
    notice = _notice_once(
        rotation=rotation,
        user=previous.user,
        shift_start=start,
        rule=rule,
        role=ShiftNotice.Role.OUTGOING,
    )
    if notice is not None:
        zone = zone_of(previous.user)
        _notice_send(
            notice,
            subject=f"Your on-call shift for {rotation.name} ended",
            body=f"You handed {rotation.name} over to {_person(incoming)} at "
            f"{_format_at(start, zone)}.",
        )
        sent += 1
    return sent
