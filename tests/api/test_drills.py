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
