"""Putting people on duty for dispatch tests: accounts, shifts, tokens, and running the worker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from app.context import AppContext
from app.dispatch.worker import run_due
from app.models import Assignment, OutboxEvent, Shift, StaffUser, Unit
from tests.helpers import auth, staff_token

SHIFT_HOURS = 12


async def on_duty(
    context: AppContext,
    username: str,
    unit_code: str,
    *,
    role: str = "counselor",
    sex: str | None = None,
    hours: float = SHIFT_HOURS,
    kind: str = "at_post",
) -> uuid.UUID:
    """A staff account in ``unit_code`` with a shift from now for ``hours`` (no password: cheap
    enough to staff all 44 posts; use ``token_for`` for one that signs in)."""
    async with context.sessions() as session:
        unit = await session.scalar(select(Unit).where(Unit.code == unit_code))
        assert unit is not None, unit_code
        user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            user = StaffUser(
                id=uuid.uuid4(),
                username=username,
                password_hash="!",  # cannot sign in
                role=role,
                unit_id=unit.id,
                sex=sex,
                created_at=context.clock.now(),
            )
            session.add(user)
            await session.flush()
        now = context.clock.now()
        session.add(
            Shift(
                id=uuid.uuid4(),
                unit_id=unit.id,
                staff_id=user.id,
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(hours=hours),
                kind=kind,
                created_at=now,
            )
        )
        await session.commit()
        return user.id


async def token_on_duty(
    client: httpx.AsyncClient, context: AppContext, username: str, role: str, unit_code: str
) -> str:
    """A staff member who can sign in, rostered now at ``unit_code``."""
    token = await staff_token(client, context, username, role, unit_code)
    await on_duty(context, username, unit_code, role=role)
    return token


async def all_posts_staffed(context: AppContext, region: str = "dki-jakarta") -> None:
    async with context.sessions() as session:
        codes = (
            await session.scalars(
                select(Unit.code).where(Unit.region_code == region, Unit.kind == "post")
            )
        ).all()
    for code in codes:
        await on_duty(context, f"konselor.{code}", code)


async def drain(context: AppContext) -> int:
    """Run the dispatcher until nothing is due now (what the loop does, minus the waiting)."""
    total = 0
    while ran := await run_due(context):
        total += ran
    return total


async def legs(context: AppContext, alert_id: str) -> list[Assignment]:
    async with context.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Assignment)
                    .where(Assignment.alert_id == uuid.UUID(alert_id))
                    .order_by(Assignment.step, Assignment.unit_code)
                )
            ).all()
        )


async def events(context: AppContext, alert_id: str | None = None) -> list[OutboxEvent]:
    async with context.sessions() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.id)
        if alert_id is not None:
            query = query.where(OutboxEvent.alert_id == uuid.UUID(alert_id))
        return list((await session.scalars(query)).all())


async def event_names(context: AppContext, alert_id: str) -> list[str]:
    return [e.event_type for e in await events(context, alert_id)]


async def post(
    client: httpx.AsyncClient, path: str, token: str, body: Any | None = None
) -> httpx.Response:
    return await client.post(path, headers=auth(token), json=body)
