"""SLA reports cannot single out a person: windows snap to whole hours (supervisors) or days
(everyone else) of the region's wall clock, small groups are suppressed for readers without
province-wide sight with no total to subtract from, and duress counts only for supervisors."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.context import AppContext
from app.models import Alert, Device, SlaClock
from app.policy.reports import ReportAudience, suppressed_keys
from app.sla.reports import GroupFigures, shape, snap
from tests.helpers import auth, integrator_token, staff_token

JAKARTA = ZoneInfo("Asia/Jakarta")
DAY = datetime(2026, 11, 3, tzinfo=JAKARTA)  # local midnight
SPOTTED = DAY + timedelta(hours=10, minutes=15, seconds=30)
"""The duress alert an attacker brackets with a two-millisecond window."""
SOUTH, NEAR = "3171060", "3171050"  # two kecamatan of one kota


async def history(context: AppContext) -> None:
    """On DAY: the duress alert and one more at 10 h in SOUTH, a third in SOUTH at 15 h, and five
    in NEAR; on the next day one more."""
    times = [
        (SPOTTED, SOUTH, True),
        (SPOTTED + timedelta(minutes=20), SOUTH, False),
        (DAY + timedelta(hours=15), SOUTH, False),
        *[(DAY + timedelta(hours=3 + n), NEAR, False) for n in range(5)],
        (DAY + timedelta(days=1, hours=9), NEAR, False),
    ]
    async with context.sessions() as session:
        device = Device(
            id=uuid.uuid4(), credential_hash=uuid.uuid4().hex * 2, created_at=DAY, pin_failures=0
        )
        session.add(device)
        await session.flush()
        for n, (at, area, duress) in enumerate(times):
            received = at.astimezone(UTC)
            session.add(
                Alert(
                    id=uuid.uuid4(),
                    case_code=f"SGP-P{n:07d}",
                    device_id=device.id,
                    region_code="dki-jakarta",
                    state="acknowledged",
                    is_drill=False,
                    silent=True,
                    reporter="victim",
                    flags=[],
                    area_code=area,
                    area_method="inside",
                    station_candidates=[],
                    press_count=1,
                    last_pressed_at=received,
                    joinable=False,
                    device_status="cancelled" if duress else "active",
                    duress=duress,
                    do_not_call_back=duress,
                    received_at=received,
                    updated_at=received,
                    dispatch_step=0,
                    escalations=0,
                    sla_dirty=False,
                )
            )
        await session.commit()


def _attack(**extra: str) -> dict[str, str]:
    return {
        "from": (SPOTTED - timedelta(milliseconds=1)).isoformat(),
        "to": (SPOTTED + timedelta(milliseconds=1)).isoformat(),
        "group_by": "kecamatan",
        **extra,
    }


def _groups(report: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {g["key"]: g for g in report["groups"]}


async def test_isolating_one_alert_fails_for_every_audience(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await history(context)
    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    admin = await staff_token(client, context, "admin", "admin", "central")
    integrator = await integrator_token(client, context, ["reports:read"])

    # The supervisor gets the whole hour: the duress alert among the others of that hour.
    answer = await client.get("/v1/reports/sla", headers=auth(supervisor), params=_attack())
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    hour = DAY + timedelta(hours=10)
    assert (seen["from"], seen["to"], seen["granularity"]) == (
        hour.astimezone(UTC).isoformat(),
        (hour + timedelta(hours=1)).astimezone(UTC).isoformat(),
        "hour",
    )
    [group] = seen["groups"]
    assert (group["key"], group["alerts"], group["cancelled_under_duress"]) == (SOUTH, 2, 1)
    whole_hour = await client.get(
        "/v1/reports/sla",
        headers=auth(supervisor),
        params={
            "from": hour.isoformat(),
            "to": (hour + timedelta(hours=1)).isoformat(),
            "group_by": "kecamatan",
        },
    )
    assert whole_hour.json() == seen  # the narrow window tells nothing the hour does not

    day = (DAY.astimezone(UTC).isoformat(), (DAY + timedelta(days=1)).astimezone(UTC).isoformat())
    # The admin: the whole day, and no duress figure at all.
    seen = (await client.get("/v1/reports/sla", headers=auth(admin), params=_attack())).json()
    assert (seen["from"], seen["to"], seen["granularity"], seen["min_cell"]) == (*day, "day", None)
    groups = _groups(seen)
    assert {k: g["alerts"] for k, g in groups.items()} == {SOUTH: 3, NEAR: 5}
    assert all("cancelled_under_duress" not in g for g in groups.values())

    # An integrator with data scope none: the whole day, SOUTH (3 < 5) suppressed, and NEAR with
    # it, or the day's total (8, by another grouping) minus NEAR (5) would give SOUTH away.
    seen = (await client.get("/v1/reports/sla", headers=auth(integrator), params=_attack())).json()
    assert (seen["from"], seen["to"], seen["min_cell"]) == (*day, 5)
    assert seen["groups"] == [
        {"key": NEAR, "suppressed": True},
        {"key": SOUTH, "suppressed": True},
    ]
    by_day = await client.get(
        "/v1/reports/sla", headers=auth(integrator), params=_attack(group_by="day")
    )
    [total] = by_day.json()["groups"]
    assert (total["suppressed"], total["alerts"]) == (False, 8)
    assert "cancelled_under_duress" not in total
    as_csv = await client.get(
        "/v1/reports/sla", headers=auth(integrator), params=_attack(format="csv")
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert "cancelled_under_duress" not in rows[0]
    assert [(r["key"], r["suppressed"], r["alerts"]) for r in rows] == [
        (NEAR, "true", None),
        (SOUTH, "true", None),
    ]


async def test_groups_big_enough_are_shown_to_integrators(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await history(context)
    integrator = await integrator_token(client, context, ["reports:read"])
    two_days = {
        "from": DAY.isoformat(),
        "to": (DAY + timedelta(days=2)).isoformat(),
        "group_by": "kecamatan",
    }
    seen = await client.get("/v1/reports/sla", headers=auth(integrator), params=two_days)
    # NEAR has 6 now: shown; SOUTH (3) is suppressed, and so is NEAR, the only other group.
    assert [g["suppressed"] for g in seen.json()["groups"]] == [True, True]
    context.settings.sla.report_min_cell = 3
    seen = await client.get("/v1/reports/sla", headers=auth(integrator), params=two_days)
    assert {g["key"]: g["alerts"] for g in seen.json()["groups"]} == {SOUTH: 3, NEAR: 6}


@pytest.mark.parametrize(
    ("start", "end", "granularity", "want"),
    [
        # local times; the window widens outward to whole units of the region's wall clock
        ("10:15:30.123", "10:15:30.125", "hour", ("10:00", "11:00")),
        ("10:00", "11:00", "hour", ("10:00", "11:00")),
        ("10:00", "11:00:00.001", "hour", ("10:00", "12:00")),
        ("10:15:30.123", "10:15:30.125", "day", ("00:00", "+1 00:00")),
        ("00:00", "+1 00:00", "day", ("00:00", "+1 00:00")),
        ("23:59:59", "+1 00:00:01", "day", ("00:00", "+2 00:00")),
    ],
)
def test_windows_snap_to_whole_hours_or_days_of_the_region(
    start: str, end: str, granularity: str, want: tuple[str, str]
) -> None:
    def local(text: str) -> datetime:
        days, _, clock = text.rpartition(" ")
        parsed = datetime.strptime(
            clock,
            "%H:%M:%S.%f" if "." in clock else ("%H:%M:%S" if clock.count(":") == 2 else "%H:%M"),
        )
        moment = DAY + timedelta(
            days=int(days or 0),
            hours=parsed.hour,
            minutes=parsed.minute,
            seconds=parsed.second,
            microseconds=parsed.microsecond,
        )
        return moment.astimezone(UTC)  # the API's callers send any offset

    got = snap(local(start), local(end), granularity=granularity, timezone="Asia/Jakarta")  # type: ignore[arg-type]
    assert got == (local(want[0]), local(want[1]))
    assert got[0].utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("counts", "parents", "want"),
    [
        ({"a": 6, "b": 7}, None, set()),
        ({"a": 3, "b": 10, "c": 12}, None, {"a", "b"}),  # b: the smallest complement
        ({"a": 2, "b": 2, "c": 9}, None, {"a", "b", "c"}),  # a + b = 4 < 5
        ({"a": 2, "b": 3, "c": 9}, None, {"a", "b"}),  # a + b = 5: enough
        ({"a": 4}, None, {"a"}),
        # within a kota too: y1 alone would be kota p2's total minus y2
        (
            {"x1": 9, "x2": 30, "y1": 1, "y2": 40, "y3": 8},
            {"x1": "p1", "x2": "p1", "y1": "p2", "y2": "p2", "y3": "p2"},
            {"y1", "y3"},
        ),
        ({"x1": 2, "x2": 30, "y1": 6}, {"x1": "p1", "x2": "p1", "y1": "p2"}, {"x1", "x2", "y1"}),
    ],
)
def test_suppression_leaves_nothing_to_subtract(
    counts: dict[str, int], parents: dict[str, str] | None, want: set[str]
) -> None:
    assert suppressed_keys(counts, min_cell=5, parents=parents) == want


def test_no_family_of_groups_has_a_suppressed_sum_below_the_minimum() -> None:
    rng = random.Random(21)
    for _ in range(500):
        counts = {f"g{n}": rng.choice([1, 1, 2, 3, 4, 5, 8, 20]) for n in range(rng.randint(1, 9))}
        parents = {key: rng.choice("pq") for key in counts}
        hidden = suppressed_keys(counts, min_cell=5, parents=parents)
        assert all(counts[k] >= 5 for k in set(counts) - hidden)
        for family in (set(counts), *({k for k in counts if parents[k] == p} for p in "pq")):
            total = sum(counts[k] for k in family & hidden)
            assert total == 0 or total >= 5 or family <= hidden, (counts, parents, hidden)


def _clock(alert: Alert, clock: str, start_s: float, target_s: float, **fields: object) -> SlaClock:
    started = alert.received_at + timedelta(seconds=start_s)
    stop_s = fields.pop("stop_s", None)
    return SlaClock(
        id=uuid.uuid4(),
        alert_id=alert.id,
        clock=clock,
        target_key=clock,
        policy_version="t",
        started_at=started,
        warn_at=started + timedelta(seconds=target_s * 0.75),
        deadline_at=started + timedelta(seconds=target_s),
        stopped_at=alert.received_at + timedelta(seconds=stop_s) if stop_s is not None else None,
        next_at=None,
        breach_cause=None,
        **fields,
    )


async def twins(context: AppContext) -> None:
    """Day 1: a cancel before anyone accepted, one after, and four others; day 2 the same, but
    both cancels under duress — the alerts then went on for staff (accepted, on scene)."""
    async with context.sessions() as session:
        device = Device(
            id=uuid.uuid4(), credential_hash=uuid.uuid4().hex * 2, created_at=DAY, pin_failures=0
        )
        session.add(device)
        await session.flush()
        for day, duress in ((0, False), (1, True)):
            base = (DAY + timedelta(days=day, hours=9)).astimezone(UTC)

            def alert(n: int, base: datetime = base, day: int = day, **fields: object) -> Alert:
                at = base + timedelta(minutes=10 * n)
                values: dict[str, object] = {
                    "state": "acknowledged",
                    "device_status": "active",
                    "duress": False,
                    "do_not_call_back": False,
                    **fields,
                }
                return Alert(
                    id=uuid.uuid4(),
                    case_code=f"SGP-D{day}{n:06d}",
                    device_id=device.id,
                    region_code="dki-jakarta",
                    is_drill=False,
                    silent=True,
                    reporter="victim",
                    flags=[],
                    area_code=SOUTH,
                    area_method="inside",
                    station_candidates=[],
                    press_count=1,
                    last_pressed_at=at,
                    joinable=False,
                    received_at=at,
                    updated_at=at,
                    routed_at=at + timedelta(seconds=1),
                    dispatch_step=0,
                    escalations=0,
                    sla_dirty=False,
                    **values,
                )

            def seconds(a: Alert, s: float) -> datetime:
                return a.received_at + timedelta(seconds=s)

            rows: list[object] = []
            # Cancelled at 30 s, before anyone accepted.
            if duress:
                early = alert(0, duress=True, do_not_call_back=True, device_status="cancelled")
                early.device_closed_at, early.acknowledged_at = (
                    seconds(early, 30),
                    seconds(early, 50),
                )
                rows += [
                    early,
                    _clock(early, "routing", 0, 5, stop_s=1, status="met", excluded=False),
                    _clock(
                        early, "acknowledgement", 1, 60, stop_s=50, status="met", excluded=False
                    ),
                    _clock(early, "on_scene", 50, 1800, status="running", excluded=False),
                ]
            else:
                early = alert(0, state="cancelled", device_status="cancelled")
                early.device_closed_at = early.cancelled_at = seconds(early, 30)
                rows += [
                    early,
                    _clock(early, "routing", 0, 5, stop_s=1, status="met", excluded=True),
                    _clock(early, "acknowledgement", 1, 60, status="closed", excluded=True),
                ]
            # Accepted at 20 s, cancelled at 40 s.
            late = alert(1, duress=duress, do_not_call_back=duress, device_status="cancelled")
            late.acknowledged_at, late.device_closed_at = seconds(late, 20), seconds(late, 40)
            if not duress:
                late.state, late.cancelled_at = "cancelled", seconds(late, 40)
            rows += [
                late,
                _clock(late, "routing", 0, 5, stop_s=1, status="met", excluded=False),
                _clock(late, "acknowledgement", 1, 60, stop_s=20, status="met", excluded=False),
                _clock(late, "first_contact", 20, 300, status="closed", excluded=False),
                _clock(
                    late,
                    "on_scene",
                    20,
                    1800,
                    stop_s=600 if duress else None,
                    status="met" if duress else "closed",
                    excluded=False,
                ),
            ]
            for n in range(2, 6):
                plain = alert(n)
                plain.acknowledged_at = seconds(plain, 10 + n)
                rows += [
                    plain,
                    _clock(plain, "routing", 0, 5, stop_s=1, status="met", excluded=False),
                    _clock(
                        plain, "acknowledgement", 1, 60, stop_s=10 + n, status="met", excluded=False
                    ),
                ]
            session.add_all(rows)
            await session.flush()
        await session.commit()


async def test_a_duress_cancel_reads_as_the_genuine_one_for_all_but_supervisors(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await twins(context)
    params = {
        "from": DAY.isoformat(),
        "to": (DAY + timedelta(days=2)).isoformat(),
        "group_by": "day",
    }
    for who in (
        await staff_token(client, context, "admin", "admin", "central"),
        await integrator_token(client, context, ["reports:read"]),
    ):
        answer = await client.get("/v1/reports/sla", headers=auth(who), params=params)
        genuine, duress = answer.json()["groups"]
        assert genuine["excluded"] == {"drills": 0, "accidental": 1}
        assert {**genuine, "key": None} == {**duress, "key": None}  # field by field
    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    answer = await client.get("/v1/reports/sla", headers=auth(supervisor), params=params)
    genuine, duress = answer.json()["groups"]
    assert (genuine["cancelled_under_duress"], duress["cancelled_under_duress"]) == (0, 2)
    assert duress["excluded"]["accidental"] == 0  # for staff the alerts went on
    assert duress["clocks"]["on_scene"]["met"] == 1


def test_a_group_holding_only_clocks_of_alerts_counted_elsewhere_is_judged_by_them() -> None:
    """By post, a clock may count for another group than its alert (``app.sla.charging``): a
    group with no alert of its own but one alert's clock is a group of one."""
    groups: dict[str, GroupFigures] = defaultdict(GroupFigures)
    elsewhere = groups["none"]
    elsewhere.members.add("a1")
    elsewhere.clocks["acknowledgement"].finished = 1
    post = groups[SOUTH]
    post.alerts = 6
    post.members.update(f"a{n}" for n in range(1, 7))
    audience = ReportAudience(granularity="day", min_cell=5, shows_duress=False)
    assert shape(groups, audience) == [
        {"key": SOUTH, "suppressed": True},  # or "none" would be its total minus the rest
        {"key": "none", "suppressed": True},
    ]
