"""Lay shifts out as week rows for the schedule page: each bar's offset and width in percent."""

import datetime
from dataclasses import dataclass

from .selectors import Gap, Shift

MEMBER_COLOURS = 6


@dataclass(frozen=True)
class Bar:
    left: float
    width: float
    start: datetime.datetime
    end: datetime.datetime
    shift: Shift | None
    colour: int | None

    @property
    def is_gap(self) -> bool:
        return self.shift is None


@dataclass(frozen=True)
class WeekRow:
    start: datetime.datetime
    end: datetime.datetime
    days: list[datetime.datetime]
    bars: list[Bar]
    now_left: float | None


def week_start(at: datetime.datetime, zone) -> datetime.datetime:
    """Return Monday 00:00 of the week containing `at`, in `zone`."""
    local = at.astimezone(zone)
    monday = local.date() - datetime.timedelta(days=local.weekday())
    return datetime.datetime.combine(monday, datetime.time(0), tzinfo=zone)


def _wall_days_later(start: datetime.datetime, days: int) -> datetime.datetime:
    # Adding days to a zone-aware datetime keeps wall time, so a DST week is 167 or 169 hours.
    return start + datetime.timedelta(days=days)


def week_rows_build(
    *,
    shifts: list[Shift],
    gaps: list[Gap],
    first_week: datetime.datetime,
    weeks: int,
    now: datetime.datetime,
    colours: dict[int, int],
) -> list[WeekRow]:
    """Cut shifts and gaps at week boundaries; `colours` maps a user id to a member colour."""
    rows = []
    pieces = [(shift.start, shift.end, shift) for shift in shifts]
    pieces += [(gap.start, gap.end, None) for gap in gaps]
    pieces.sort(key=lambda piece: piece[0])
    for number in range(weeks):
        start = _wall_days_later(first_week, 7 * number)
        end = _wall_days_later(first_week, 7 * (number + 1))
        length = (end - start).total_seconds()

        def percent(instant, start=start, length=length):
            return round(100 * (instant - start).total_seconds() / length, 3)

        bars = []
        for piece_start, piece_end, shift in pieces:
            if piece_end <= start or piece_start >= end:
                continue
            left, right = max(piece_start, start), min(piece_end, end)
            bars.append(
                Bar(
                    left=percent(left),
                    width=percent(right) - percent(left),
                    start=piece_start,
                    end=piece_end,
                    shift=shift,
                    colour=colours.get(shift.user.pk) if shift is not None else None,
                )
            )
        rows.append(
            WeekRow(
                start=start,
                end=end,
                days=[_wall_days_later(start, day) for day in range(7)],
                bars=bars,
                now_left=percent(now) if start <= now < end else None,
            )
        )
    return rows


def member_colours(rotation) -> dict[int, int]:
    return {
        member.user_id: index % MEMBER_COLOURS
        for index, member in enumerate(rotation.members.all())
    }
