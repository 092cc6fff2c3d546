"""Compute who is on call from rotations and overrides, for every page, task and test.

Handoffs are computed in the rotation's local wall time with zoneinfo, so a rotation in
Europe/Berlin that hands off on Sunday at 09:00 does so at 09:00 local in summer and in winter.
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q

from .models import OnCallLayer, Override, Rotation, RotationMember

User = get_user_model()

SCHEDULE_WEEKS = 8
# The shortest time a selector can be asked about: one instant.
_INSTANT = datetime.timedelta(microseconds=1)


@dataclass(frozen=True)
class Shift:
    """A stretch of time in which one person is on call for a rotation."""

    user: User
    start: datetime.datetime
    end: datetime.datetime
    is_override: bool
    override_id: int | None
    rotation: Rotation
    # Older overrides this override hides where they overlap, oldest first.
    replaced_overrides: tuple[Override, ...] = field(default=())

    @property
    def duration(self) -> datetime.timedelta:
        return self.end - self.start

    def contains(self, at: datetime.datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Gap:
    """A stretch of time in which nobody is on call for a rotation."""

    start: datetime.datetime
    end: datetime.datetime


def handoff_index(rotation: Rotation, at: datetime.datetime) -> int:
    """Return the number of the last handoff at or before `at`; -1 before the first handoff."""
    wall = at.astimezone(rotation.time_zone).replace(tzinfo=None)
    index = (wall - rotation.first_handoff_wall) // rotation.shift_length
    # The wall-time estimate can be one off around a DST change; the instants decide.
    while index >= 0 and rotation.handoff_at(index) > at:
        index -= 1
    while rotation.handoff_at(index + 1) <= at:
        index += 1
    return max(index, -1)


def _base_shifts(rotation, members, start, end) -> list[Shift]:
    if not members:
        return []
    shifts = []
    index = max(handoff_index(rotation, start), 0)
    while True:
        shift_start = rotation.handoff_at(index)
        if shift_start >= end:
            break
        shift_end = rotation.handoff_at(index + 1)
        if shift_end > start:
            shifts.append(
                Shift(
                    user=members[index % len(members)].user,
                    start=max(shift_start, start),
                    end=min(shift_end, end),
                    is_override=False,
                    override_id=None,
                    rotation=rotation,
                )
            )
        index += 1
    return shifts


def _newest_first(override: Override):
    return (override.created_at, override.pk)


def shifts_compute(
    *,
    rotation: Rotation,
    members: Sequence[RotationMember],
    overrides: Iterable[Override],
    start: datetime.datetime,
    end: datetime.datetime,
) -> list[Shift]:
    """Lay the overrides over the rotation's shifts, cut to [start, end); no queries.

    Where overrides overlap, the newest (by creation, then id) covers the overlap and lists the
    older ones it replaces. Adjacent pieces with the same person and source are joined.
    """
    if end <= start:
        return []
    base = _base_shifts(rotation, members, start, end)
    overrides = sorted(
        (item for item in overrides if item.start < end and item.end > start),
        key=_newest_first,
    )
    boundaries = {start, end}
    for shift in base:
        boundaries.update((shift.start, shift.end))
    for item in overrides:
        boundaries.update((max(item.start, start), min(item.end, end)))
    points = sorted(boundaries)

    pieces: list[Shift] = []
    base_index = 0
    for piece_start, piece_end in zip(points, points[1:], strict=False):
        covering = [
            item for item in overrides if item.start <= piece_start and item.end >= piece_end
        ]
        if covering:
            newest = covering[-1]
            piece = Shift(
                user=newest.user,
                start=piece_start,
                end=piece_end,
                is_override=True,
                override_id=newest.pk,
                rotation=rotation,
                replaced_overrides=tuple(covering[:-1]),
            )
        else:
            while base_index < len(base) and base[base_index].end <= piece_start:
                base_index += 1
            if base_index >= len(base) or base[base_index].start > piece_start:
                continue
            piece = Shift(
                user=base[base_index].user,
                start=piece_start,
                end=piece_end,
                is_override=False,
                override_id=None,
                rotation=rotation,
            )
        pieces.append(piece)
    return _joined(pieces)


def _joined(pieces: list[Shift]) -> list[Shift]:
    joined: list[Shift] = []
    for piece in pieces:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.end == piece.start
            and previous.user.pk == piece.user.pk
            and previous.override_id == piece.override_id
            and previous.replaced_overrides == piece.replaced_overrides
        ):
            joined[-1] = Shift(
                user=previous.user,
                start=previous.start,
                end=piece.end,
                is_override=previous.is_override,
                override_id=previous.override_id,
                rotation=previous.rotation,
                replaced_overrides=previous.replaced_overrides,
            )
        else:
            joined.append(piece)
    return joined


def _members_of(rotation: Rotation) -> list[RotationMember]:
    # Uses members prefetched by the caller, if any; otherwise one query.
    return list(rotation.members.all())


def _overrides_query(start, end):
    return (
        Override.objects.filter(start__lt=end, end__gt=start)
        .select_related("user", "created_by")
        .order_by("created_at", "id")
    )


def _member_prefetch() -> Prefetch:
    return Prefetch(
        "members", queryset=RotationMember.objects.select_related("user").order_by("position", "id")
    )


def rotation_list(*, active_only: bool = True):
    rotations = Rotation.objects.select_related("layer").prefetch_related(_member_prefetch())
    if active_only:
        rotations = rotations.filter(is_active=True)
    return rotations.order_by("layer__position", "position", "name")


def rotation_get(*, pk: int) -> Rotation:
    return rotation_list(active_only=False).get(pk=pk)


def shift_list(
    *, rotation: Rotation, start: datetime.datetime, end: datetime.datetime
) -> list[Shift]:
    """Return who is on call for the rotation from `start` to `end`, cut to that range."""
    overrides = _overrides_query(start, end).filter(rotation=rotation)
    return shifts_compute(
        rotation=rotation,
        members=_members_of(rotation),
        overrides=overrides,
        start=start,
        end=end,
    )


def shift_list_by_rotation(
    *, rotations: Sequence[Rotation], start: datetime.datetime, end: datetime.datetime
) -> dict[int, list[Shift]]:
    """Compute several rotations' shifts with one query for all their overrides."""
    by_rotation: dict[int, list[Override]] = {rotation.pk: [] for rotation in rotations}
    for item in _overrides_query(start, end).filter(rotation__in=list(by_rotation)):
        by_rotation[item.rotation_id].append(item)
    return {
        rotation.pk: shifts_compute(
            rotation=rotation,
            members=_members_of(rotation),
            overrides=by_rotation[rotation.pk],
            start=start,
            end=end,
        )
        for rotation in rotations
    }


def rotation_of_user_at(
    *,
    shifts_by_rotation: dict[int, list[Shift]],
    rotations: Sequence[Rotation],
    user_id: int,
    at: datetime.datetime,
) -> Rotation | None:
    """Return the first of `rotations` whose shift at the instant `at` was the user's; no queries.

    `shifts_by_rotation` comes from `shift_list_by_rotation` over a range that contains `at`.
    """
    for rotation in rotations:
        for shift in shifts_by_rotation.get(rotation.pk, ()):
            if shift.contains(at) and shift.user.pk == user_id:
                return rotation
    return None


def on_call_user_get(*, rotation: Rotation, at: datetime.datetime):
    """Return the person on call for the rotation at the instant `at`, or None in a gap."""
    shifts = shift_list(rotation=rotation, start=at, end=at + _INSTANT)
    return shifts[0].user if shifts else None


def _severity_key(severity) -> str:
    return getattr(severity, "key", severity)


def layer_on_call_get(*, layer: str, at: datetime.datetime, severity=None):
    """Return who is on call for a layer at `at`: the first active rotation with someone on call.

    Rotations are asked in position order. Returns None when the layer is not engaged for
    `severity` (a Severity or its key), or when nobody is on call.
    """
    layer_row = OnCallLayer.objects.filter(key=layer).first()
    if layer_row is None:
        return None
    if severity is not None and not layer_row.is_engaged_for(_severity_key(severity)):
        return None
    rotations = list(rotation_list().filter(layer=layer_row))
    shifts = shift_list_by_rotation(rotations=rotations, start=at, end=at + _INSTANT)
    for rotation in rotations:
        if shifts[rotation.pk]:
            return shifts[rotation.pk][0].user
    return None


def user_shift_list(*, user, start: datetime.datetime, end: datetime.datetime) -> list[Shift]:
    """Return the person's shifts across every active rotation, in time order."""
    rotations = list(
        rotation_list()
        .filter(
            Q(members__user=user)
            | Q(overrides__user=user, overrides__start__lt=end, overrides__end__gt=start)
        )
        .distinct()
    )
    shifts = [
        shift
        for rotation_shifts in shift_list_by_rotation(
            rotations=rotations, start=start, end=end
        ).values()
        for shift in rotation_shifts
        if shift.user.pk == user.pk
    ]
    return sorted(shifts, key=lambda shift: (shift.start, shift.rotation.name))


def gap_list(
    *, shifts: Sequence[Shift], start: datetime.datetime, end: datetime.datetime
) -> list[Gap]:
    """Return the stretches of [start, end) that no shift covers."""
    gaps = []
    cursor = start
    for shift in shifts:
        if shift.start > cursor:
            gaps.append(Gap(start=cursor, end=shift.start))
        cursor = max(cursor, shift.end)
    if cursor < end:
        gaps.append(Gap(start=cursor, end=end))
    return gaps


@dataclass(frozen=True)
class LayerOnCall:
    """A layer's current shift and the next person's shift, for the dashboard."""

    layer: OnCallLayer
    rotation: Rotation | None
    current: Shift | None
    next: Shift | None


def _run_end(shifts: Sequence[Shift], first: int) -> int:
    """Return the index after the run of shifts by the same person starting at `first`."""
    index = first + 1
    while (
        index < len(shifts)
        and shifts[index].user.pk == shifts[first].user.pk
        and shifts[index].start == shifts[index - 1].end
    ):
        index += 1
    return index


def layer_on_call_list(*, now: datetime.datetime) -> list[LayerOnCall]:
    """Return, per layer, the current shift (until when) and the next person's shift (from when).

    A shift here is the stretch one person covers without a break. The lookahead is four of the
    rotation's shift lengths, so a longer stretch shows as ending at that horizon.
    """
    layers = list(OnCallLayer.objects.order_by("position", "id"))
    rotations = list(rotation_list())
    horizon = max((rotation.shift_length for rotation in rotations), default=datetime.timedelta(0))
    shifts = shift_list_by_rotation(rotations=rotations, start=now, end=now + 4 * horizon)
    summaries = []
    for layer in layers:
        layer_rotations = [rotation for rotation in rotations if rotation.layer_id == layer.pk]
        chosen = next((rotation for rotation in layer_rotations if shifts[rotation.pk]), None) or (
            layer_rotations[0] if layer_rotations else None
        )
        current = next_shift = None
        if chosen is not None:
            rotation_shifts = shifts[chosen.pk]
            if rotation_shifts and rotation_shifts[0].contains(now):
                run_end = _run_end(rotation_shifts, 0)
                current = _spanning(rotation_shifts[0:run_end])
                if run_end < len(rotation_shifts):
                    next_shift = _spanning(
                        rotation_shifts[run_end : _run_end(rotation_shifts, run_end)]
                    )
            elif rotation_shifts:
                next_shift = _spanning(rotation_shifts[0 : _run_end(rotation_shifts, 0)])
        summaries.append(
            LayerOnCall(layer=layer, rotation=chosen, current=current, next=next_shift)
        )
    return summaries


def _spanning(run: Sequence[Shift]) -> Shift:
    first = run[0]
    return Shift(
        user=first.user,
        start=first.start,
        end=run[-1].end,
        is_override=any(shift.is_override for shift in run),
        override_id=first.override_id,
        rotation=first.rotation,
    )
