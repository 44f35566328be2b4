"""OpeningHours: parsing the stored JSON and answering "open at this local moment?"."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.dispatch.hours import OpeningHours

JAKARTA = ZoneInfo("Asia/Jakarta")
MONDAY = date(2026, 11, 23)
NO_HOLIDAYS: frozenset[date] = frozenset()

OFFICE = OpeningHours.from_json(
    {
        "always_open": False,
        "closed_on_holidays": True,
        "weekly": {d: [["08:00", "16:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    }
)
# A night shift: Friday and Saturday 22:00 to 06:00 the next morning, plus Sunday until midnight.
NIGHTS = OpeningHours.from_json(
    {
        "always_open": False,
        "closed_on_holidays": True,
        "weekly": {
            "fri": [["22:00", "06:00"]],
            "sat": [["22:00", "06:00"]],
            "sun": [["18:00", "24:00"]],
        },
    }
)
FRIDAY = MONDAY + timedelta(days=4)


def at(day: date, hhmm: str, second: int = 0) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=JAKARTA)


@pytest.mark.parametrize(
    ("hours", "moment", "expected"),
    [
        pytest.param(OFFICE, at(MONDAY, "10:00"), True, id="weekday-midday"),
        pytest.param(OFFICE, at(MONDAY, "07:59", 59), False, id="weekday-before-opening"),
        pytest.param(OFFICE, at(MONDAY, "08:00"), True, id="opening-minute-is-open"),
        pytest.param(OFFICE, at(MONDAY, "15:59", 59), True, id="last-second-is-open"),
        pytest.param(OFFICE, at(MONDAY, "16:00"), False, id="closing-minute-is-closed"),
        pytest.param(OFFICE, at(MONDAY + timedelta(days=5), "10:00"), False, id="saturday"),
        pytest.param(OFFICE, at(MONDAY + timedelta(days=6), "10:00"), False, id="sunday"),
        pytest.param(NIGHTS, at(FRIDAY, "21:59"), False, id="night-before-start"),
        pytest.param(NIGHTS, at(FRIDAY, "22:00"), True, id="night-start"),
        pytest.param(NIGHTS, at(FRIDAY, "23:59", 59), True, id="night-before-midnight"),
        pytest.param(NIGHTS, at(FRIDAY + timedelta(days=1), "00:00"), True, id="night-midnight"),
        pytest.param(
            NIGHTS, at(FRIDAY + timedelta(days=1), "05:59"), True, id="night-next-morning"
        ),
        pytest.param(NIGHTS, at(FRIDAY + timedelta(days=1), "06:00"), False, id="night-end"),
        pytest.param(NIGHTS, at(FRIDAY + timedelta(days=1), "12:00"), False, id="saturday-noon"),
        # Sunday's range is 18:00-24:00: Saturday night's spill runs until 06:00 Sunday only.
        pytest.param(NIGHTS, at(FRIDAY + timedelta(days=2), "03:00"), True, id="saturday-spill"),
        pytest.param(NIGHTS, at(FRIDAY + timedelta(days=2), "23:59"), True, id="until-24:00"),
        pytest.param(NIGHTS, at(FRIDAY + timedelta(days=3), "00:00"), False, id="24:00-is-end"),
        pytest.param(NIGHTS, at(FRIDAY - timedelta(days=1), "02:00"), False, id="no-spill-thu"),
    ],
)
def test_is_open(hours: OpeningHours, moment: datetime, expected: bool) -> None:
    assert hours.is_open(moment, NO_HOLIDAYS) is expected


def test_the_offset_of_the_moment_is_the_callers_business() -> None:
    # 10:00 in a +07:00 fixed zone is the same local wall time as Asia/Jakarta's.
    fixed = datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=7)))
    assert OFFICE.is_open(fixed, NO_HOLIDAYS)


def test_a_holiday_closes_only_hours_that_say_so() -> None:
    holidays = frozenset({MONDAY})
    assert not OFFICE.is_open(at(MONDAY, "10:00"), holidays)
    assert OFFICE.is_open(at(MONDAY + timedelta(days=1), "10:00"), holidays)
    lenient = OpeningHours(OFFICE.always_open, False, OFFICE.weekly)
    assert lenient.is_open(at(MONDAY, "10:00"), holidays)


def test_a_night_range_opened_on_a_holiday_eve_runs_into_the_holiday() -> None:
    saturday = FRIDAY + timedelta(days=1)
    assert NIGHTS.is_open(at(saturday, "03:00"), frozenset({saturday}))
    # ...while one that would open on the holiday does not open, even after midnight.
    assert not NIGHTS.is_open(at(saturday, "23:00"), frozenset({saturday}))
    assert not NIGHTS.is_open(at(saturday + timedelta(days=1), "03:00"), frozenset({saturday}))
    assert not NIGHTS.is_open(at(FRIDAY, "23:00"), frozenset({FRIDAY}))


@pytest.mark.parametrize("moment", [at(MONDAY, "00:00"), at(MONDAY, "23:59", 59)])
def test_always_open(moment: datetime) -> None:
    assert OpeningHours.ALWAYS.is_open(moment, frozenset({MONDAY}))
    closes_on_holidays = OpeningHours(always_open=True, closed_on_holidays=True, weekly={})
    assert closes_on_holidays.is_open(moment, NO_HOLIDAYS)
    assert not closes_on_holidays.is_open(moment, frozenset({MONDAY}))


def test_always_open_wins_over_weekly() -> None:
    hours = OpeningHours.from_json({"always_open": True, "weekly": {"mon": [["08:00", "09:00"]]}})
    assert hours.is_open(at(MONDAY, "20:00"), NO_HOLIDAYS)


def test_none_gives_the_default_or_always_open() -> None:
    assert OpeningHours.from_json(None) is OpeningHours.ALWAYS
    assert OpeningHours.from_json(None, default=OFFICE) is OFFICE


def test_parsed_hours_are_normalised() -> None:
    assert OFFICE.weekly == {d: ((480, 960),) for d in range(5)}
    assert NIGHTS.weekly == {4: ((1320, 360),), 5: ((1320, 360),), 6: ((1080, 1440),)}
    split = OpeningHours.from_json(
        {"weekly": {"mon": [["13:00", "16:00"], ["08:00", "12:00"]], "tue": []}}
    )
    assert split.weekly == {0: ((480, 720), (780, 960))}
    # Missing keys take the reference schema's defaults.
    assert (split.always_open, split.closed_on_holidays) == (False, True)
    assert split.is_open(at(MONDAY, "12:30"), NO_HOLIDAYS) is False
    assert hash(split) == hash(OpeningHours(False, True, {0: ((780, 960), (480, 720))}))


def test_stored_shape_of_the_shipped_post_hours_parses() -> None:
    stored = {
        "always_open": False,
        "closed_on_holidays": True,
        "weekly": {"mon": [("08:00", "16:00")]},
    }
    assert OpeningHours.from_json(stored).is_open(at(MONDAY, "08:00"), NO_HOLIDAYS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(["mon"], "expected an object", id="not-an-object"),
        pytest.param({"always_open": "yes"}, "'always_open' must be true or false", id="flag"),
        pytest.param({"closed_on_holidays": 1}, "must be true or false", id="int-flag"),
        pytest.param({"alwaysOpen": True}, "unknown keys alwaysOpen", id="unknown-key"),
        pytest.param({"weekly": [["08:00", "16:00"]]}, "'weekly' must be an object", id="weekly"),
        pytest.param({"weekly": {"monday": []}}, "unknown day 'monday'", id="day-name"),
        pytest.param({"weekly": {"mon": "08:00-16:00"}}, "list of [start, end]", id="day-str"),
        pytest.param({"weekly": {"mon": [["08:00"]]}}, "expected [start, end]", id="one-time"),
        pytest.param({"weekly": {"mon": [["8:00", "16:00"]]}}, "'HH:MM'", id="short-hour"),
        pytest.param({"weekly": {"mon": [["08:00", 960]]}}, "'HH:MM'", id="number"),
        pytest.param({"weekly": {"mon": [["08:00", "16:00\n"]]}}, "'HH:MM'", id="newline"),
        pytest.param({"weekly": {"mon": [["08:60", "16:00"]]}}, "no such time", id="minute"),
        pytest.param({"weekly": {"mon": [["08:00", "25:00"]]}}, "no such time", id="hour"),
        pytest.param({"weekly": {"mon": [["08:00", "24:30"]]}}, "no such time", id="24:30"),
        pytest.param({"weekly": {"mon": [["24:00", "06:00"]]}}, "cannot start at 24:00", id="24"),
        pytest.param({"weekly": {"mon": [["08:00", "08:00"]]}}, "empty range", id="empty"),
    ],
)
def test_malformed_hours_are_refused_with_a_clear_message(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match="opening hours") as info:
        OpeningHours.from_json(data)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "weekly",
    [{7: ((0, 60),)}, {0: ((0, 1441),)}, {0: ((1440, 60),)}, {0: ((60, 60),)}, {0: ((-1, 60),)}],
)
def test_the_constructor_checks_ranges_too(weekly: dict[int, tuple[tuple[int, int], ...]]) -> None:
    with pytest.raises(ValueError, match="opening hours"):
        OpeningHours(always_open=False, closed_on_holidays=False, weekly=weekly)


def test_a_naive_moment_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="aware"):
        OFFICE.is_open(datetime(2026, 11, 23, 10, 0), NO_HOLIDAYS)
