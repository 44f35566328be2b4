"""A station's Pos SAPA: a transit desk at station level, configured by an operator, offered
together with its operator's control desk when staffed and the victim is at its station — not as
a step the control room waits behind — and the first of the two to accept holds the transit side.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from app.context import AppContext
from app.models import Unit
from app.reference.loader import bump_version, import_units
from tests.dispatch.staffing import drain, legs, post, token_on_duty
from tests.helpers import auth, press, press_body, register

BLOK_M_HALTE = "transjakarta:H00014P"  # the nearest station to tests.helpers.BLOK_M (~38 m)
DESK = "tj-sapa-blok-m"
KB = "3171060"


@pytest.fixture
async def station_desk(context: AppContext, tmp_path: Path) -> AsyncIterator[str]:
    """A Pos SAPA at TJ Blok M, added as an operator would (the units import), removed after."""
    units = [{
        "code": DESK, "kind": "transit_desk", "name": "Pos SAPA Transjakarta Blok M",
        "area_code": KB, "partner_code": "transjakarta", "station_uid": BLOK_M_HALTE,
        "address": None, "lat": -6.243312, "lon": 106.80175, "phones": [], "hours": None,
        "verified": False, "takes_drills": False, "source": "test",
    }]
    path = tmp_path / "units.json"
    path.write_text(json.dumps(units))
    async with context.sessions() as session:
        await import_units(session, path, region_code="dki-jakarta", now=context.clock.now())
        # An import keeps a unit's own active flag: the desk retired by an earlier test returns.
        await session.execute(update(Unit).where(Unit.code == DESK).values(active=True))
        await session.commit()
    yield DESK
    # Units are reference data every test shares: retire the desk (its legs and shifts keep their
    # rows) and say so to every process's routing cache.
    async with context.sessions() as session:
        await session.execute(update(Unit).where(Unit.code == DESK).values(active=False))
        await bump_version(session, now=context.clock.now())
        await session.commit()


async def test_the_station_desk_and_the_control_desk_are_offered_at_once_and_one_holds_it(
    client: httpx.AsyncClient, context: AppContext, station_desk: str
) -> None:
    guard = await token_on_duty(client, context, "petugas.blokm", "transit_staff", station_desk)
    control = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, device = await register(client)
    alert_id = str((await press(client, device, press_body(context))).json()["id"])
    await drain(context)

    transit = {g.unit_code: g for g in await legs(context, alert_id) if g.leg_kind == "transit"}
    assert set(transit) == {station_desk, "transjakarta"}
    assert {g.status for g in transit.values()} == {"offered"}
    assert transit[station_desk].step == transit["transjakarta"].step  # together, not in turn
    routing = (await client.get(f"/v1/alerts/{alert_id}/routing", headers=auth(control))).json()
    assert routing is not None

    taken = await post(client, f"/v1/assignments/{transit[station_desk].id}/accept", guard)
    assert taken.status_code == 200, taken.text
    after = {g.unit_code: g for g in await legs(context, alert_id) if g.leg_kind == "transit"}
    assert after["transjakarta"].status == "withdrawn"
    late = await post(client, f"/v1/assignments/{transit['transjakarta'].id}/accept", control)
    assert late.status_code in (403, 409), late.text
    # The post leg is untouched: the counselor's follow-up is still offered.
    assert {g.status for g in await legs(context, alert_id) if g.leg_kind == "post"} == {
        "offered"
    }


async def test_an_unstaffed_station_desk_leaves_the_control_desk_alone(
    client: httpx.AsyncClient, context: AppContext, station_desk: str
) -> None:
    await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    _, device = await register(client)
    alert_id = str((await press(client, device, press_body(context))).json()["id"])
    await drain(context)
    transit = [g.unit_code for g in await legs(context, alert_id) if g.leg_kind == "transit"]
    assert transit == ["transjakarta"]
