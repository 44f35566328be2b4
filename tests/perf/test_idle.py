"""An idle process asks the database (almost) nothing: every background loop sleeps until a
commit wakes it or its next deadline, never on a short poll of empty tables.

The loops run for real (real sleeps) after their first cycle; the window is shorter than every
fallback poll (relay 10 s, the others 30 s), so the bound is a design property, not a timing:
a busy machine makes loops run less often, never more. Two loops are periodic by design, the
audit sealer (5 s) and the hand-off check (10 s); here they run every 30 s like the others,
or a slow start on a busy machine would put their next cycle inside the window. Before issue
13 an idle process ran about 12 statements a second.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from app.context import AppContext
from app.main import create_app
from app.observability import StatementCounter

LOOPS = ("dispatcher", "sla-monitor", "relay", "hub", "notifier")
QUIET_S = 0.5
WINDOW_S = 3.0


async def settled(counter: StatementCounter, timeout_s: float = 30.0) -> None:
    """Until the start-up cycles are over: a QUIET_S without any statement."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = counter.statements
        await asyncio.sleep(QUIET_S)
        if counter.statements == before:
            return
    raise AssertionError("never quiet:\n" + "\n".join(counter.log[-20:]))


async def test_an_idle_process_sends_next_to_no_statements(context: AppContext) -> None:
    settings = context.settings.model_copy(deep=True)
    settings.security.audit_seal_interval_s = 30
    settings.integrations.handoff_check_s = 30
    app = create_app(context=replace(context, settings=settings), run_loops=True)
    # Listening starts before the loops do: adding an engine listener while a loop's BEGIN is
    # running its listeners (SQLite's BEGIN IMMEDIATE awaits inside one) breaks that BEGIN.
    with StatementCounter(context.engine) as counter:
        async with app.router.lifespan_context(app):
            await settled(counter)
            assert set(LOOPS) <= set(context.loop_heartbeats)
            counter.reset()
            await asyncio.sleep(WINDOW_S)
    assert counter.statements <= 2, "\n".join(counter.log)
