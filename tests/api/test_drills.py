"""Drills from the console or `sigap drill`: a drill press at the unit, marked and routed as one."""

from __future__ import annotations

import httpx

from app.context import AppContext
from tests.helpers import staff_token


async def test_a_supervisor_starts_a_drill_at_a_post_and_it_is_a_drill_everywhere(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    token = await staff_token(client, context, "pengawas", "supervisor", "central")
    headers = {"Authorization": f"Bearer {token}"}
    started = await client.post("/v1/drills", json={"unit_code": "3173020"}, headers=headers)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["case_code"].startswith("SGP-")
    alert = (await client.get(f"/v1/alerts/{body['alert_id']}", headers=headers)).json()
    assert alert["is_drill"] is True
    assert alert["area_code"] == "3173020"


async def test_drills_are_for_supervisors_and_for_units_that_take_them(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    counselor = await staff_token(client, context, "konselor.menteng", "counselor", "3173020")
    refused = await client.post(
        "/v1/drills",
        json={"unit_code": "3173020"},
        headers={"Authorization": f"Bearer {counselor}"},
    )
    assert refused.status_code == 403
    sup = await staff_token(client, context, "pengawas", "supervisor", "central")
    headers = {"Authorization": f"Bearer {sup}"}
    unknown = await client.post("/v1/drills", json={"unit_code": "nope"}, headers=headers)
    assert unknown.status_code == 404
    # Transit control desks have no coordinates to rehearse at.
    desk = await client.post("/v1/drills", json={"unit_code": "transjakarta"}, headers=headers)
    assert desk.status_code == 422
    extra = await client.post(
        "/v1/drills", json={"unit_code": "3173020", "real": True}, headers=headers
    )
    assert extra.status_code == 422


async def test_a_drill_reaches_a_drill_post_after_hours_and_a_real_press_does_not(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    from datetime import timedelta

    from sqlalchemy import select, update

    from app.models import Unit
    from tests.dispatch.staffing import drain, legs, on_duty
    from tests.helpers import press, press_body, register

    menteng, point = "3173020", {"lat": -6.199394, "lon": 106.841482, "accuracy_m": 20}
    await on_duty(context, "konselor.menteng", menteng)
    async with context.sessions() as session:
        before = await session.scalar(select(Unit.updated_at).where(Unit.code == menteng))
        closed = {"always_open": False, "closed_on_holidays": True, "weekly": {}}
        await session.execute(
            update(Unit)
            .where(Unit.code == menteng)
            .values(hours=closed, updated_at=context.clock.now() + timedelta(seconds=1))
        )
        await session.commit()
    try:
        sup = await staff_token(client, context, "pengawas", "supervisor", "central")
        headers = {"Authorization": f"Bearer {sup}"}
        drill = await client.post("/v1/drills", json={"unit_code": menteng}, headers=headers)
        assert drill.status_code == 201, drill.text
        _, credential = await register(client)
        real = await press(client, credential, press_body(context, location=point))
        assert real.status_code == 201, real.text
        await drain(context)
        assert menteng in [g.unit_code for g in await legs(context, drill.json()["alert_id"])]
        assert menteng not in [g.unit_code for g in await legs(context, real.json()["id"])]
    finally:
        async with context.sessions() as session:
            await session.execute(
                update(Unit).where(Unit.code == menteng).values(hours=None, updated_at=before)
            )
            await session.commit()
