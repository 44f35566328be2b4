"""``GET /v1/alerts/{id}/sla`` after the alert ends: clocks whose target never came are stopped
with the alert at once (not when the monitor next passes), never running and never a breach
later, unless their deadline had already passed."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import SlaClock
from app.sla.monitor import run_cycle
from tests.dispatch.staffing import drain, legs, on_duty, post, token_on_duty
from tests.helpers import auth, press, press_body, register, sign_in

KB = "3171060"


async def shown(client: httpx.AsyncClient, alert_id: str, token: str) -> dict[str, str]:
    response = await client.get(f"/v1/alerts/{alert_id}/sla", headers=auth(token))
    assert response.status_code == 200, response.text
    return {clock["clock"]: clock["status"] for clock in response.json()}


async def stored(context: AppContext) -> dict[str, str]:
    async with context.sessions() as session:
        rows = (await session.scalars(select(SlaClock))).all()
    return {row.clock: row.status for row in rows}


async def supervisor_token(client: httpx.AsyncClient) -> str:
    return str((await sign_in(client, "supervisor"))["access_token"])


async def test_a_resolved_alerts_open_clocks_read_as_closed_at_once_and_for_good(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    await token_on_duty(client, context, "supervisor", "supervisor", "central")
    token = await token_on_duty(client, context, "konselor.kb", "counselor", KB)
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    leg = next(g for g in await legs(context, alert_id) if g.unit_code == KB)
    assert (await post(client, f"/v1/assignments/{leg.id}/accept", token)).status_code == 200
    await run_cycle(context)
    assert (await shown(client, alert_id, token))["on_scene"] == "running"

    clock.advance(60)  # nobody contacted nor on scene yet: the counselor resolves it
    resolved = await post(
        client, f"/v1/alerts/{alert_id}/resolve", token, {"disposition": "assisted"}
    )
    assert resolved.status_code == 200, resolved.text
    expected = {
        "routing": "met",
        "acknowledgement": "met",
        "first_contact": "closed",
        "on_scene": "closed",
    }
    # Read before the monitor (or the dispatcher) has passed over the alert.
    assert (await stored(context))["on_scene"] == "running"
    assert await shown(client, alert_id, token) == expected

    clock.advance(context.settings.sla.targets_s["on_scene:post"])  # past every deadline
    assert await shown(client, alert_id, await supervisor_token(client)) == expected
    await run_cycle(context)
    assert await stored(context) == expected  # the monitor writes what was shown
    assert await shown(client, alert_id, await supervisor_token(client)) == expected


async def test_a_deadline_passed_before_the_close_reads_as_breached_not_closed(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    supervisor = await token_on_duty(client, context, "supervisor", "supervisor", "central")
    await on_duty(context, "konselor.kb", KB)
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    await run_cycle(context)

    clock.advance(context.settings.sla.targets_s["acknowledgement"] + 30)  # nobody accepted
    resolved = await post(
        client, f"/v1/alerts/{alert_id}/resolve", supervisor, {"disposition": "false_alarm"}
    )
    assert resolved.status_code == 200, resolved.text
    assert (await stored(context))["acknowledgement"] == "running"  # the monitor is behind
    assert await shown(client, alert_id, supervisor) == {
        "routing": "met",
        "acknowledgement": "breached",
    }
    await run_cycle(context)
    assert await stored(context) == {"routing": "met", "acknowledgement": "breached"}
