"""The alert's trail of fixes for the console's map: oldest first, need-to-know, audited."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.context import AppContext
from app.models import AuditEntry
from tests.helpers import auth, press, press_body, register, staff_token


async def test_the_trail_lists_usable_fixes_oldest_first_and_each_read_is_audited(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, credential = await register(client)
    alert = (await press(client, credential, press_body(clock))).json()
    clock.advance(timedelta(seconds=20))
    moved = await client.post(
        f"/v1/alerts/{alert['id']}/locations",
        json={"points": [{"lat": -6.245, "lon": 106.802, "accuracy_m": 10,
                          "fix_at": clock.now().isoformat()}]},
        headers=auth(credential),
    )
    assert moved.status_code == 200, moved.text
    supervisor = await staff_token(client, context, "pengawas", "supervisor", "central")
    trail = await client.get(f"/v1/alerts/{alert['id']}/trail", headers=auth(supervisor))
    assert trail.status_code == 200
    points = trail.json()
    assert len(points) == 2
    assert points[0]["fix_at"] < points[1]["fix_at"]
    assert points[1]["lat"] == -6.245
    async with context.sessions() as session:
        reads = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "alert.trail_read"
            )
        )
    assert reads == 1


async def test_the_trail_of_an_alert_you_may_not_see_is_not_found(
    client: httpx.AsyncClient, context: AppContext, clock: FrozenClock
) -> None:
    _, credential = await register(client)
    alert = (await press(client, credential, press_body(clock))).json()
    stranger = await staff_token(client, context, "konselor.seribu", "counselor", "3101010")
    assert (
        await client.get(f"/v1/alerts/{alert['id']}/trail", headers=auth(stranger))
    ).status_code == 404
    assert (
        await client.get(f"/v1/alerts/{alert['id']}/trail", headers=auth(credential))
    ).status_code == 403
