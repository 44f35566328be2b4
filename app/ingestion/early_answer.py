"""TEST ONLY: the fault harness's negative control, a press answered *before* it is committed.

With ``SIGAP_UNSAFE_ANSWER_BEFORE_COMMIT_S`` > 0 (refused unless ``SIGAP_ENVIRONMENT=test``, see
``Settings``) the press is written and flushed as usual, answered at once, and committed that
many seconds later. A PostgreSQL crash inside that window loses alerts the phone was told were
recorded: exactly the bug the harness under ``loadtests/faults`` must be able to see. Nothing else
uses this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.ingestion.press import PressResult, ingest_alert

log = logging.getLogger("sigap.unsafe")
_held: set[asyncio.Task[None]] = set()  # strong references: a bare task may be collected


class _FlushOnCommit(AsyncSession):
    """``commit`` only flushes; ``commit_now`` really commits."""

    async def commit(self) -> None:
        await self.flush()

    async def commit_now(self) -> None:
        await super().commit()


async def ingest_answering_before_commit(
    sessions: async_sessionmaker[AsyncSession], *, hold_s: float, **press: Any
) -> PressResult:
    session = async_sessionmaker(class_=_FlushOnCommit, **sessions.kw)()
    try:
        result = await ingest_alert(session, **press)
    except BaseException:
        await session.close()
        raise
    task = asyncio.create_task(_commit_later(session, hold_s))
    _held.add(task)
    task.add_done_callback(_held.discard)
    return result


async def _commit_later(session: _FlushOnCommit, hold_s: float) -> None:
    try:
        await asyncio.sleep(hold_s)
        await session.commit_now()
    except Exception:  # the crash this exists for: the answered press is lost
        log.warning("a press answered before commit was lost", exc_info=True)
    finally:
        with contextlib.suppress(Exception):
            await session.close()
