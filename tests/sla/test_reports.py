"""SLA reports against an independent computation over a generated history of a few thousand
alerts with known intervals; drills excluded, duress cancels included; JSON and CSV."""

from __future__ import annotations

import csv
import io
import random
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.context import AppContext
from app.models import Alert, Device, SlaClock
from tests.dispatch.staffing import drain, on_duty, token_on_duty
from tests.helpers import auth, integrator_token, press, press_body, register, staff_token

ALERTS = 2500
AREAS = ("3171060", "3171050", "3173080", "3174010")
DAY = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
JAKARTA = ZoneInfo("Asia/Jakarta")


async def generate(context: AppContext, seed: int = 3) -> list[dict[str, object]]:
    """Alerts with routing and acknowledgement clocks of known durations."""
    rng = random.Random(seed)
    history: list[dict[str, object]] = []
    async with context.sessions() as session:
        device = Device(
            id=uuid.uuid4(), credential_hash=uuid.uuid4().hex * 2, created_at=DAY, pin_failures=0
        )
        session.add(device)
        await session.flush()
        for n in range(ALERTS):
            received = DAY + timedelta(seconds=rng.uniform(0, 3 * 86400))
            drill, duress = rng.random() < 0.05, rng.random() < 0.03
            alert = Alert(
                id=uuid.uuid4(),
                case_code=f"SGP-T{n:07d}",
                device_id=device.id,
                region_code="dki-jakarta",
                state="acknowledged",
                is_drill=drill,
                silent=True,
                reporter="victim",
                flags=[],
                area_code=rng.choice(AREAS),
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
            session.add(alert)
            record: dict[str, object] = {"alert": alert, "clocks": {}}
            for clock, target, scale in (("routing", 5, 2.0), ("acknowledgement", 60, 40.0)):
                duration = round(rng.expovariate(1 / scale), 3)
                stopped = rng.random() > 0.02  # a few never stopped: breached, no duration
                started = received
                status = ("met" if duration <= target else "breached") if stopped else "breached"
                session.add(
                    SlaClock(
                        id=uuid.uuid4(),
                        alert_id=alert.id,
                        clock=clock,
                        target_key=clock,
                        policy_version="t",
                        started_at=started,
                        warn_at=started + timedelta(seconds=target * 0.75),
                        deadline_at=started + timedelta(seconds=target),
                        stopped_at=started + timedelta(seconds=duration) if stopped else None,
                        status=status,
                        next_at=None,
                        breach_cause=None
                        if status == "met"
                        else rng.choice(["declined", "timed_out"]),
                        excluded=drill,
                    )
                )
                record["clocks"][clock] = (status, duration if stopped else None)  # type: ignore[index]
            history.append(record)
            if n % 500 == 499:
                await session.flush()
        await session.commit()
    return history


def expected_groups(history: list[dict[str, object]], key_of) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    out: dict[str, dict] = defaultdict(  # type: ignore[type-arg]
        lambda: {"alerts": 0, "drills": 0, "duress": 0, "clocks": defaultdict(list)}
    )
    for record in history:
        alert = record["alert"]
        group = out[key_of(alert)]
        group["alerts"] += 1
        group["drills"] += alert.is_drill  # type: ignore[attr-defined]
        group["duress"] += alert.duress  # type: ignore[attr-defined]
        if alert.is_drill:  # type: ignore[attr-defined]
            continue
        for clock, value in record["clocks"].items():  # type: ignore[attr-defined]
            group["clocks"][clock].append(value)
    return out


def check(report: dict, expected: dict) -> None:  # type: ignore[type-arg]
    groups = {g["key"]: g for g in report["groups"]}
    assert set(groups) == set(expected)
    for key, want in expected.items():
        got = groups[key]
        assert got["alerts"] == want["alerts"]
        assert got["excluded"]["drills"] == want["drills"]
        assert got["cancelled_under_duress"] == want["duress"]
        for clock, values in want["clocks"].items():
            figures = got["clocks"][clock]
            statuses = [status for status, _ in values]
            assert figures["finished"] == len(values)
            assert figures["met"] == statuses.count("met")
            assert figures["breached"] == statuses.count("breached")
            assert figures["share_met"] == round(statuses.count("met") / len(values), 4)
            durations = [d for _, d in values if d is not None]
            cuts = statistics.quantiles(durations, n=100, method="inclusive")
            for name, cut in (("p50_s", cuts[49]), ("p90_s", cuts[89]), ("p99_s", cuts[98])):
                assert figures[name] == pytest.approx(cut, abs=0.002), (key, clock, name)
            assert sum(figures["breaches_by_cause"].values()) == statuses.count("breached")


async def test_report_figures_equal_an_independent_computation(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    history = await generate(context)
    token = await staff_token(client, context, "supervisor", "supervisor", "central")
    span = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=3)).isoformat()}
    by_area = await client.get(
        "/v1/reports/sla", headers=auth(token), params={**span, "group_by": "kecamatan"}
    )
    assert by_area.status_code == 200, by_area.text
    check(by_area.json(), expected_groups(history, lambda a: a.area_code))
    by_hour = await client.get(
        "/v1/reports/sla", headers=auth(token), params={**span, "group_by": "hour"}
    )
    check(
        by_hour.json(),
        expected_groups(history, lambda a: f"{a.received_at.astimezone(JAKARTA).hour:02d}"),
    )
    as_csv = await client.get(
        "/v1/reports/sla",
        headers=auth(token),
        params={**span, "group_by": "day", "format": "csv"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    days = {r["key"] for r in rows}
    assert days == {
        a["alert"].received_at.astimezone(JAKARTA).date().isoformat()  # type: ignore[attr-defined]
        for a in history
    }


async def test_report_by_post_and_who_may_read_it(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    await on_duty(context, "konselor.kb", "3171060")
    counselor = await token_on_duty(client, context, "konselor.x", "counselor", "3171060")
    supervisor = await staff_token(client, context, "supervisor", "supervisor", "central")
    reports = await integrator_token(client, context, ["reports:read"])
    other = await integrator_token(client, context, ["alerts:read"])
    for _ in range(3):
        _, credential = await register(client)
        await press(client, credential, press_body(context))
    await drain(context)
    from app.sla.monitor import run_cycle

    await run_cycle(context)
    now = context.clock.now()
    params = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
        "group_by": "post",
    }
    report = await client.get("/v1/reports/sla", headers=auth(supervisor), params=params)
    [group] = report.json()["groups"]
    assert (group["key"], group["alerts"]) == ("3171060", 3)
    assert group["clocks"]["routing"]["met"] == 3
    assert (
        await client.get("/v1/reports/sla", headers=auth(reports), params=params)
    ).status_code == 200
    for token in (counselor, other):
        assert (
            await client.get("/v1/reports/sla", headers=auth(token), params=params)
        ).status_code == 403
    bad = await client.get(
        "/v1/reports/sla", headers=auth(supervisor), params={**params, "to": params["from"]}
    )
    assert bad.status_code == 422
