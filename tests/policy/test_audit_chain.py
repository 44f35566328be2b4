"""The audit trail is sealed in batches and tampering with a sealed row is found."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, insert, select, update

from app.audit import record
from app.context import AppContext
from app.models import AuditEntry
from app.security.audit_chain import AuditKeys, chain_key, seal_pending, verify

KEY = AuditKeys.single(chain_key("test-secret-that-is-long-enough-for-the-chain"))


async def _write(context: AppContext, n: int) -> None:
    async with context.sessions() as session:
        for _ in range(n):
            record(
                session,
                principal=None,
                action="alert.read",
                object_type="alert",
                object_id=uuid.uuid4(),
                at=context.clock.now(),
            )
        await session.commit()


async def _sealed(context: AppContext) -> None:
    await _write(context, 5)
    async with context.sessions() as session:
        head = await seal_pending(session, keys=KEY, now=context.clock.now(), limit=3)
        assert head is not None and head.rows == 3
    await _write(context, 2)
    async with context.sessions() as session:
        head = await seal_pending(session, keys=KEY, now=context.clock.now())
        assert head is not None and head.rows == 4
    await _write(context, 1)  # not sealed yet


async def _verdict(context: AppContext) -> list[str]:
    async with context.sessions() as session:
        return (await verify(session, keys=KEY)).problems


async def test_an_untouched_trail_verifies_and_counts_what_is_not_sealed(
    context: AppContext,
) -> None:
    await _sealed(context)
    async with context.sessions() as session:
        verdict = await verify(session, keys=KEY)
    assert verdict.as_dict() == {
        "intact": True,
        "sealed": 7,
        "unsealed": 1,
        "batches": 2,
        "problems": [],
        "late_rows": [],
        "checkpoints": 0,
        "restores": [],
        "warnings": [],
    }
    async with context.sessions() as session:
        other = AuditKeys.single(chain_key("another key"))
        assert (await verify(session, keys=other)).problems  # the key matters


@pytest.mark.parametrize("tamper", ["change", "delete_middle", "delete_last", "insert"])
async def test_a_changed_inserted_or_deleted_sealed_row_is_found(
    context: AppContext, tamper: str
) -> None:
    await _sealed(context)
    async with context.sessions() as session:
        ids = (await session.scalars(select(AuditEntry.id).order_by(AuditEntry.id))).all()
        if tamper == "change":
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == ids[1]).values(actor_id="someone")
            )
        elif tamper == "delete_middle":
            await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[4]))
        elif tamper == "delete_last":
            await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[6]))
        else:
            row = await session.get(AuditEntry, ids[2])
            assert row is not None
            await session.execute(
                insert(AuditEntry).values(
                    at=row.at,
                    actor_type="staff",
                    actor_id="forged",
                    action="alert.read",
                    object_type="alert",
                    object_id=None,
                    detail={},
                    seal_batch=1,
                    chain=row.chain,
                )
            )
        await session.commit()
    assert await _verdict(context) != []
