"""The tamper-evident audit trail: seal rows in batches, verify the chain.

A chain link per row at insert time would serialise every press and every read on one lock, so
rows go in unchained (``app.audit.record``) and a background sealer chains them afterwards: each
batch takes the unsealed rows in id order, links each to the one before with an HMAC keyed
outside the database (so whoever can write the table cannot forge links), and records the batch
(row count and last link) in ``audit_seal``. Batches are numbered consecutively; two sealers
racing for the same number cannot both commit it.

``verify`` walks every batch again and reports a row that was changed, inserted among sealed
ones or deleted from them, and how many rows are not sealed yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import AppContext
from app.models import AuditEntry, AuditSeal

GENESIS = "0" * 64


def chain_key(secret: str) -> bytes:
    """A key for the chain alone, derived from the deployment's secret (kept outside the DB)."""
    return hmac.new(secret.encode(), b"sigap audit chain v1", hashlib.sha256).digest()


def _content(row: AuditEntry) -> bytes:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return json.dumps(
        [
            row.id,
            at.astimezone(UTC).isoformat(),
            row.actor_type,
            row.actor_id,
            row.action,
            row.object_type,
            str(row.object_id) if row.object_id else None,
            row.detail,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def link(key: bytes, previous: str, row: AuditEntry) -> str:
    return hmac.new(key, previous.encode() + b"\n" + _content(row), hashlib.sha256).hexdigest()


async def seal_pending(
    session: AsyncSession, *, key: bytes, now: datetime, limit: int = 1000
) -> int:
    """Seal one batch of at most ``limit`` unsealed rows; commits. Returns how many it sealed
    (0 when there was nothing to seal or another sealer took the batch number first)."""
    last = await session.scalar(select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1))
    rows = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seal_batch.is_(None))
            .order_by(AuditEntry.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        await session.rollback()
        return 0
    batch = (last.id if last else 0) + 1
    previous = last.head if last else GENESIS
    for row in rows:
        previous = link(key, previous, row)
        row.seal_batch, row.chain = batch, previous
    session.add(AuditSeal(id=batch, sealed_at=now, rows=len(rows), head=previous))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # another sealer committed this batch: its rows are sealed
        return 0
    return len(rows)


@dataclass
class Verdict:
    sealed: int = 0
    unsealed: int = 0
    batches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "sealed": self.sealed,
            "unsealed": self.unsealed,
            "batches": self.batches,
            "problems": self.problems,
        }


async def verify(session: AsyncSession, *, key: bytes, page: int = 5000) -> Verdict:
    verdict = Verdict()
    seals = (await session.scalars(select(AuditSeal).order_by(AuditSeal.id))).all()
    verdict.batches = len(seals)
    previous = GENESIS
    for expected_id, seal in enumerate(seals, start=1):
        if seal.id != expected_id:
            verdict.problems.append(f"batch {expected_id} is missing (found {seal.id} next)")
        counted = 0
        last_id = 0
        while True:
            rows = (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seal_batch == seal.id, AuditEntry.id > last_id)
                    .order_by(AuditEntry.id)
                    .limit(page)
                )
            ).all()
            if not rows:
                break
            for row in rows:
                counted += 1
                previous = link(key, previous, row)
                if row.chain != previous:
                    verdict.problems.append(
                        f"row {row.id} (batch {seal.id}) was changed, or a row before it in "
                        "the batch was inserted or deleted"
                    )
                    previous = row.chain or previous  # report each break once, then go on
                last_id = row.id
        verdict.sealed += counted
        if counted != seal.rows:
            verdict.problems.append(
                f"batch {seal.id} sealed {seal.rows} rows and holds {counted}: "
                f"{'deleted' if counted < seal.rows else 'inserted'} rows"
            )
        elif previous != seal.head:
            verdict.problems.append(f"batch {seal.id} ends on another link than it was sealed")
        previous = seal.head
    stray = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.seal_batch > (seals[-1].id if seals else 0))
    )
    if stray:
        verdict.problems.append(f"{stray} rows claim a batch that was never sealed: inserted")
    verdict.unsealed = int(
        await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.seal_batch.is_(None))
        )
        or 0
    )
    return verdict


async def seal_audit(context: AppContext) -> None:
    """The sealer loop's body: seal batches until the backlog is gone."""
    key = chain_key(context.settings.effective_secret_key)
    while True:
        async with context.sessions() as session:
            sealed = await seal_pending(session, key=key, now=context.clock.now())
        if sealed < 1000:
            return
