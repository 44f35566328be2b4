"""Each leg's clocks charge that leg's unit only: a report by post neither credits a post with an
acknowledgement a transit desk made after the post's offer expired, nor blames it for the transit
leg's on-scene clock."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from app.sla.charging import post_charged
from app.sla.monitor import run_cycle
from tests.dispatch.staffing import drain, legs, on_duty, post, token_on_duty
from tests.helpers import auth, press, press_body, register, staff_token

KB = "3171060"


def test_each_clock_is_charged_to_its_own_legs_post() -> None:
    held = {"post": KB, "holder": KB, "first_accept_kind": "post"}
    transit_first = {"post": KB, "holder": None, "first_accept_kind": "transit"}
    nobody = {"post": KB, "holder": None, "first_accept_kind": None}
    assert post_charged("acknowledgement", "acknowledgement", **held) == KB
    assert post_charged("acknowledgement", "acknowledgement", **transit_first) is None
    assert post_charged("acknowledgement", "acknowledgement", **nobody) == KB  # nobody answered
    assert post_charged("on_scene", "on_scene:transit", **transit_first) is None
    assert post_charged("first_contact", "first_contact", **transit_first) is None
    assert post_charged("first_contact", "first_contact", **held) == KB
    assert post_charged("routing", "routing", **transit_first) == KB


async def test_a_post_is_not_credited_with_transits_late_acknowledgement(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    guard = await token_on_duty(client, context, "petugas.tj", "transit_staff", "transjakarta")
    await on_duty(context, "konselor.kb", KB)
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    _, credential = await register(client)
    alert_id = str((await press(client, credential, press_body(context))).json()["id"])
    await drain(context)
    clock.advance(61)  # both offers expire; the post ladder moves on
    await drain(context)
    transit = next(g for g in await legs(context, alert_id) if g.leg_kind == "transit")
    late = await post(client, f"/v1/assignments/{transit.id}/accept", guard)  # within the grace
    assert late.status_code == 200, late.text
    await run_cycle(context)
    now = context.clock.now()
    params = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
        "group_by": "post",
    }
    report = await client.get("/v1/reports/sla", headers=auth(supervisor), params=params)
    assert report.status_code == 200, report.text
    groups = {g["key"]: g for g in report.json()["groups"]}
    assert groups[KB]["alerts"] == 1
    assert "acknowledgement" not in groups[KB]["clocks"]  # Transjakarta acknowledged it
    assert "on_scene" not in groups[KB]["clocks"]  # the transit leg's clock
    assert groups["none"]["clocks"]["acknowledgement"]["finished"] == 1
