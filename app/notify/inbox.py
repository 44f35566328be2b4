"""The console's inbox: every message queued for a person (an escalation, a breach, a transfer,
a stalled loop) is also listed for them in the console, whatever became of its delivery, so a
supervisor without a gateway configured, or whose phone was off, still reads it.

In: the signed-in person. Out: their messages, newest first, with read marks they set.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Notification
from app.pagination import Cursor


async def inbox(
    session: AsyncSession,
    *,
    recipient_id: uuid.UUID,
    limit: int,
    cursor: Cursor | None,
    unread_only: bool = False,
) -> tuple[list[Notification], Cursor | None, int]:
    """(messages, the next page's cursor, how many are unread in all)."""
    query = (
        select(Notification)
        .where(Notification.recipient_id == recipient_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit + 1)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if cursor is not None:
        at, row_id = cursor.time_and_id()
        query = query.where(
            or_(
                Notification.created_at < at,
                and_(Notification.created_at == at, Notification.id < row_id),
            )
        )
    rows = list((await session.scalars(query)).all())
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = Cursor.of(rows[-1].created_at, rows[-1].id)
    unread = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == recipient_id, Notification.read_at.is_(None))
    )
    return rows, following, int(unread or 0)


async def mark_read(
    session: AsyncSession,
    *,
    recipient_id: uuid.UUID,
    ids: Sequence[uuid.UUID] | None,
    now: datetime,
) -> int:
    """Mark these of the person's messages read (None: all of them); someone else's ids change
    nothing. Returns how many were unread."""
    statement = (
        update(Notification)
        .where(Notification.recipient_id == recipient_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(list(ids)))
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
