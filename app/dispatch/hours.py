"""Opening hours: is a post, a desk or a transit line open at a given local moment?

In: the opening-hours JSON stored in reference data (``{"always_open": bool, "closed_on_holidays":
bool, "weekly": {"mon": [["08:00", "16:00"]], ...}}``), the local time and the region's holidays.
Out: an immutable ``OpeningHours`` answering ``is_open``. No clock, no time zone lookups: the caller
converts "now" to the region's zone and loads the holidays.

Ranges are half-open [start, end) in minutes since local midnight; "24:00" is a valid end. A range
whose end is before its start crosses midnight and belongs to the day it starts on, so a night
shift opened on a holiday eve keeps running into the holiday, and one that would open on a holiday
does not open at all (not even its after-midnight part).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""JSON day keys in ``datetime.weekday()`` order (0 = Monday)."""
MINUTES_PER_DAY = 24 * 60
_US_PER_MINUTE = 60_000_000
_HHMM = re.compile(r"([0-9]{2}):([0-9]{2})")
_KEYS = frozenset({"always_open", "closed_on_holidays", "weekly"})

Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening hours in local time.

    ``always_open`` wins over ``weekly`` but not over ``closed_on_holidays``. ``weekly`` maps a
    weekday (0 = Monday) to (start_min, end_min) ranges; a missing or empty day is closed. The
    constructor checks the ranges and normalises ``weekly`` (sorted, empty days dropped) so equal
    hours compare and hash equal.
    """

    always_open: bool
    closed_on_holidays: bool
    weekly: Mapping[int, Ranges]

    ALWAYS: ClassVar[OpeningHours]
    """Open 24/7, holidays included; also the hours of a desk whose data says nothing."""

    def __post_init__(self) -> None:
        normal: dict[int, Ranges] = {}
        for day in sorted(self.weekly):
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ValueError(f"opening hours: weekday must be 0 (Mon) to 6 (Sun), not {day!r}")
            ranges = tuple(sorted(_checked(DAYS[day], r) for r in self.weekly[day]))
            if ranges:
                normal[day] = ranges
        # Frozen: the normalised copy goes in through object.__setattr__.
        object.__setattr__(self, "weekly", normal)

    def __hash__(self) -> int:
        return hash((self.always_open, self.closed_on_holidays, tuple(self.weekly.items())))

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any] | None, *, default: OpeningHours | None = None
    ) -> OpeningHours:
        """Parse stored hours. None -> `default` (or ``ALWAYS``); malformed -> ValueError.

        Missing keys take the reference schema's defaults (not always open, closed on holidays,
        no weekly ranges); unknown keys are refused so a typo cannot silently open a post.
        """
        if data is None:
            return default if default is not None else cls.ALWAYS
        if not isinstance(data, Mapping):
            raise ValueError(f"opening hours: expected an object, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in _KEYS)
        if unknown:
            raise ValueError(f"opening hours: unknown keys {', '.join(unknown)}")
        weekly_json = data.get("weekly", {})
        if not isinstance(weekly_json, Mapping):
            raise ValueError("opening hours: 'weekly' must be an object of day -> ranges")
        weekly: dict[int, Ranges] = {}
        for name, ranges in weekly_json.items():
            if name not in DAYS:
                raise ValueError(f"opening hours: unknown day {name!r} (use {', '.join(DAYS)})")
            if ranges is None:
                continue  # an empty day: closed
            if isinstance(ranges, str) or not isinstance(ranges, Sequence):
                raise ValueError(f"opening hours: {name} must be a list of [start, end] pairs")
            weekly[DAYS.index(name)] = tuple(_parse_range(name, r) for r in ranges)
        return cls(
            always_open=_flag(data, "always_open", default=False),
            closed_on_holidays=_flag(data, "closed_on_holidays", default=True),
            weekly=weekly,
        )

    def is_open(self, local: datetime, holidays: AbstractSet[date]) -> bool:
        """Open at `local` (aware, already in the region's zone), given the region's holidays."""
        if local.tzinfo is None or local.utcoffset() is None:
            raise ValueError(
                "opening hours: `local` must be an aware datetime in the region's zone"
            )
        today = local.date()
        if self.always_open:
            return self._runs_on(today, holidays)
        moment = (
            (local.hour * 60 + local.minute) * _US_PER_MINUTE
            + local.second * 1_000_000
            + local.microsecond
        )
        if self._runs_on(today, holidays):
            for start, end in self.weekly.get(today.weekday(), ()):
                stop = end if end > start else MINUTES_PER_DAY  # today's part of a night range
                if start * _US_PER_MINUTE <= moment < stop * _US_PER_MINUTE:
                    return True
        yesterday = today - timedelta(days=1)
        if self._runs_on(yesterday, holidays):
            for start, end in self.weekly.get(yesterday.weekday(), ()):
                if end < start and moment < end * _US_PER_MINUTE:
                    return True
        return False

    def _runs_on(self, day: date, holidays: AbstractSet[date]) -> bool:
        """Whether ranges starting on `day` open at all."""
        return not (self.closed_on_holidays and day in holidays)


OpeningHours.ALWAYS = OpeningHours(always_open=True, closed_on_holidays=False, weekly={})


def _checked(day: str, interval: tuple[int, int]) -> tuple[int, int]:
    start, end = interval
    if not (0 <= start < MINUTES_PER_DAY and 0 <= end <= MINUTES_PER_DAY) or start == end:
        raise ValueError(
            f"opening hours: bad range {start}-{end} min on {day} "
            "(0 <= start < 1440, 0 <= end <= 1440, start != end)"
        )
    return start, end


def _parse_range(day: str, pair: object) -> tuple[int, int]:
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ValueError(f"opening hours: {day}: expected [start, end], got {pair!r}")
    start, end = (_minutes(day, value) for value in pair)
    if start == MINUTES_PER_DAY:
        raise ValueError(f"opening hours: {day}: a range cannot start at 24:00")
    if start == end:
        raise ValueError(
            f"opening hours: {day}: empty range {pair[0]}-{pair[1]} (all day is 00:00-24:00)"
        )
    return start, end


def _minutes(day: str, value: object) -> int:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"opening hours: {day}: expected a time as 'HH:MM', got {value!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes != 0):
        raise ValueError(f"opening hours: {day}: no such time {value!r} (00:00 to 24:00)")
    return hours * 60 + minutes


def _flag(data: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"opening hours: {key!r} must be true or false, not {value!r}")
    return value
