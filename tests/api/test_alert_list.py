"""GET /v1/alerts for the supervisor board: every active alert, paged, not just the newest."""

from __future__ import annotations

import httpx

from app.clock import FrozenClock
from app.context import AppContext
from tests.helpers import auth, press, press_body, register, staff_token


async def test_the_active_filter_pages_through_open_alerts_only(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    sup = await staff_token(client, context, "pengawas", "supervisor", "central")
    ids = []
    for _ in range(3):
        clock.advance(1)  # newest first needs distinct receipt times
        _, credential = await register(client)
        response = await press(client, credential, press_body(context))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        if len(ids) == 1:  # the first is cancelled by its victim: closed
            cancel = await client.post(
                f"/v1/alerts/{ids[0]}/cancel", headers=auth(credential), json={}
            )
            assert cancel.status_code == 200, cancel.text

    seen: list[str] = []
    cursor = None
    while True:
        query = "/v1/alerts?active=true&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(query, headers=auth(sup))).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Other tests' alerts may share the database: look at ours.
    assert [i for i in seen if i in ids] == [ids[2], ids[1]]
    closed = (await client.get("/v1/alerts?active=false&limit=100", headers=auth(sup))).json()
    assert [item["id"] for item in closed["items"] if item["id"] in ids] == [ids[0]]
    assert all(item["state"] in ("resolved", "cancelled") for item in closed["items"])
    bad = await client.get("/v1/alerts?active=maybe", headers=auth(sup))
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
