"""One bad item must not stop a background loop's batch.

A batch runs whole, in one transaction (the cheap, usual case). When it fails, it is run again
item by item, each in its own savepoint of one transaction: an item that fails on its own is
rolled back to its savepoint, set aside for ``ops.set_aside_s``, counted
(``sigap_background_items_set_aside``), logged with its id and listed in ``/readyz``; the others
commit. A database outage is no item's fault: it fails the cycle, and nothing is set aside. A
set-aside item is left out of the loop's next cycles until its time is up, then tried
again, so a cause that was fixed clears by itself and a lasting one is reported again.

A loop with its own retry (the dispatcher postpones a failing task with back-off: a task may be
a victim's only routing) reports its bad items through ``set_aside`` all the same, so they are
counted and listed alike, and ``forget``s them once they succeed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.db import is_outage

log = logging.getLogger("sigap.loops")

Item = TypeVar("Item", bound=Hashable)
Result = TypeVar("Result")


async def run_isolated(
    context: AppContext,
    *,
    loop: str,
    items: Sequence[Item],
    work: Callable[[AsyncSession, Sequence[Item]], Awaitable[Result]],
) -> list[Result]:
    """``work`` on the whole batch, or, if that fails, on each item alone. Returns the results
    of what committed (one for the batch, or one per good item)."""
    if not items:
        return []
    try:
        async with context.sessions() as session, session.begin():
            return [await work(session, items)]
    except Exception as exc:
        if is_outage(exc):
            raise  # the database, not an item: the loop retries the whole cycle
        if len(items) == 1:
            set_aside(context, loop, items[0])
            return []
        log.warning("%s: a batch of %d failed; retrying item by item", loop, len(items))
    results: list[Result] = []
    async with context.sessions() as session, session.begin():
        for item in items:
            try:
                async with session.begin_nested():
                    results.append(await work(session, [item]))
            except Exception as exc:
                if is_outage(exc):
                    raise
                set_aside(context, loop, item)
    return results


async def drain_isolated(
    context: AppContext,
    *,
    loop: str,
    batch: int,
    due: Callable[[AsyncSession, frozenset[str]], Awaitable[Sequence[Item]]],
    work: Callable[[AsyncSession, Sequence[Item]], Awaitable[int]],
) -> int:
    """Work through everything ``due`` lists, ``batch`` at a time, each batch through
    ``run_isolated``: ``due`` is given the keys of the items set aside, to leave them out so
    they cannot fill a batch. Stops when a batch is short, or got nothing done (what is left is
    busy elsewhere or set aside). Returns the sum of ``work``'s counts."""
    total = 0
    while True:
        aside = frozenset(set_aside_now(context, loop))
        async with context.sessions() as session:
            items = await due(session, aside)
        done = sum(await run_isolated(context, loop=loop, items=items, work=work))
        total += done
        if len(items) < batch or done == 0:
            return total


def set_aside_now(context: AppContext, loop: str) -> set[str]:
    """The items (as strings) this loop must leave out now; those whose time is up are
    forgotten, so they are tried again."""
    aside = context.set_aside.get(loop)
    if not aside:
        return set()
    now = time.monotonic()
    for key in [k for k, until in aside.items() if until <= now]:
        del aside[key]
    _publish(context, loop)
    return set(aside)


def set_aside(
    context: AppContext, loop: str, item: Hashable, *, retry: str | None = None
) -> None:
    """Report ``item`` as failing on its own (call from its ``except``: the log has the
    traceback): counted, logged with its id, listed in ``/readyz`` for ``ops.set_aside_s``.
    ``retry``: how the loop retries it, when it does not leave it out until then."""
    log.exception(
        "%s: item %s fails on its own; %s, the rest proceed",
        loop,
        item,
        retry or f"set aside for {context.settings.ops.set_aside_s:.0f} s",
    )
    aside = context.set_aside.setdefault(loop, {})
    aside[str(item)] = time.monotonic() + context.settings.ops.set_aside_s
    context.metrics.items_set_aside_total.labels(loop).inc()
    _publish(context, loop)


def forget(context: AppContext, loop: str, items: Iterable[Hashable]) -> None:
    """``items`` succeeded: no longer listed as set aside."""
    aside = context.set_aside.get(loop)
    if not aside:
        return
    for item in items:
        aside.pop(str(item), None)
    _publish(context, loop)


def _publish(context: AppContext, loop: str) -> None:
    context.metrics.items_set_aside.labels(loop).set(len(context.set_aside.get(loop, {})))
