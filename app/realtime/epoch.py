"""The stream epoch: which numbering a client's cursor belongs to.

A cursor (``after``) is only meaningful against the history it was read from. The random part
in ``stream_state`` is written once by a migration, and a backup carries it along, so on its own
it cannot tell a restored database from the one a client last read. On PostgreSQL the epoch a
client sees therefore also names the history the rows live in:

- the cluster's system identifier (``pg_control_system()``): a fresh ``initdb`` (a restore into
  another cluster) has a new one;
- the timeline (``pg_control_checkpoint()``): point-in-time recovery and a standby's promotion
  start a new one;
- the database's oid: ``pg_dump``/``pg_restore`` into a new database on the same cluster gives a
  new oid.

Any of these changing changes the epoch, so a client whose cursor may be past the restored head
is told ``resync_required`` instead of silently skipping events numbered again. The price is one
resync per client after a restore, a failover or the upgrade that introduced this.

SQLite (one process, development and small sites) uses the stored random part alone: a copied
database file keeps it, so after restoring one run ``sigap stream new-epoch``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import is_outage
from app.models import StreamState

log = logging.getLogger("sigap.realtime")

_IDENTITY = text(
    "SELECT (SELECT system_identifier FROM pg_control_system()),"
    " (SELECT timeline_id FROM pg_control_checkpoint()),"
    " (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_OID_ONLY = text("SELECT 0, 0, (SELECT oid FROM pg_database WHERE datname = current_database())")


async def stream_epoch(session: AsyncSession) -> str:
    """The epoch clients are given and must present to resume."""
    state = await session.get(StreamState, 1)
    if state is None:
        raise RuntimeError("stream_state is missing: run the migrations")
    if session.get_bind().dialect.name != "postgresql":
        return state.epoch
    identity = await cluster_identity(session)
    joined = "/".join([state.epoch, *(str(part) for part in identity)])
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


async def cluster_identity(session: AsyncSession) -> tuple[object, ...]:
    """The cluster's system identifier, its timeline and the database's oid (a restore changes
    at least one of them)."""
    try:
        async with session.begin_nested():
            return tuple((await session.execute(_IDENTITY)).one())
    except Exception as exc:
        if is_outage(exc):
            # Not a missing permission: falling back now would hand this process's clients an
            # epoch that differs from the other processes' (every resume a needless resync).
            raise
        # A role without access to the control functions: the oid still counts.
        log.warning("pg_control_* not readable: the epoch follows the database oid only")
        return tuple((await session.execute(_OID_ONLY)).one())


async def new_epoch(session: AsyncSession) -> str:
    """Replace the stored random part (after restoring a SQLite file): every client resyncs."""
    epoch = secrets.token_hex(16)
    await session.execute(update(StreamState).where(StreamState.id == 1).values(epoch=epoch))
    return epoch
