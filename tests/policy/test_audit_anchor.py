"""The audit chain's anchor outside the database: every seal's head reaches the log and the
checkpoint file, and ``verify`` finds a cut tail, emptied tables and back-dated rows, and
understands a restore from backup; the chain's own key ring rotates."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, func, insert, select

from app.audit import record
from app.clock import FrozenClock
from app.context import AppContext
from app.models import AuditEntry, AuditSeal
from app.security import audit_chain
from app.security.audit_anchor import Checkpoint, read_checkpoints
from app.security.audit_chain import (
    RESTORE_ACTION,
    AuditKeys,
    audit_keys,
    parse_ring,
    seal_audit,
    verify,
    write_restore_checkpoint,
)

TOLERANCE = timedelta(seconds=300)


@pytest.fixture
def anchor(context: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own checkpoint file (the settings are shared by the whole session)."""
    path = tmp_path / "checkpoints" / "audit.jsonl"
    monkeypatch.setattr(context.settings.security, "audit_checkpoint_file", path)
    return path


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


async def _batches(context: AppContext, clock: FrozenClock, sizes: list[int]) -> None:
    """One sealed batch per size, a minute apart, the way the sealer loop makes them."""
    for size in sizes:
        await _write(context, size)
        await seal_audit(context)
        clock.advance(60)


async def _verdict(context: AppContext, path: Path) -> dict[str, object]:
    checkpoints, warnings = read_checkpoints([path])
    async with context.sessions() as session:
        verdict = await verify(
            session,
            keys=audit_keys(context.settings),
            checkpoints=checkpoints,
            tolerance=TOLERANCE,
        )
    verdict.warnings[:0] = warnings
    return verdict.as_dict()


def _lines(path: Path) -> list[Checkpoint]:
    return [Checkpoint.from_json(line) for line in path.read_text().splitlines()]


async def _cut(context: AppContext, *, from_batch: int) -> None:
    """What someone with the database's credentials can do with the server stopped."""
    async with context.sessions() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.seal_batch >= from_batch))
        await session.execute(delete(AuditSeal).where(AuditSeal.id >= from_batch))
        await session.commit()


async def test_each_seal_goes_to_the_log_and_the_checkpoint_file(
    context: AppContext, clock: FrozenClock, anchor: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sigap.audit")
    await _batches(context, clock, [5, 2])
    lines = _lines(anchor)
    async with context.sessions() as session:
        seals = (await session.scalars(select(AuditSeal).order_by(AuditSeal.id))).all()
    assert [(c.kind, c.batch, c.rows, c.total, c.head) for c in lines] == [
        ("seal", 1, 5, 5, seals[0].head),
        ("seal", 2, 2, 7, seals[1].head),
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "sigap.audit"]
    prefix = "audit checkpoint "
    assert [json.loads(m.removeprefix(prefix)) for m in logged if m.startswith(prefix)] == [
        json.loads(c.to_json()) for c in lines
    ]
    verdict = await _verdict(context, anchor)
    assert (verdict["intact"], verdict["checkpoints"], verdict["sealed"]) == (True, 2, 7)


async def test_a_cut_tail_is_reported(
    context: AppContext, clock: FrozenClock, anchor: Path
) -> None:
    await _batches(context, clock, [3, 2, 4])
    await _cut(context, from_batch=2)
    async with context.sessions() as session:  # the chain alone still looks whole
        assert (await verify(session, keys=audit_keys(context.settings))).intact
    verdict = await _verdict(context, anchor)
    assert verdict["intact"] is False
    [problem] = verdict["problems"]  # type: ignore[misc]
    assert "ends at batch 1, yet batch 3 (9 rows in all)" in problem
    assert "2 to 3 were deleted from its end" in problem


async def test_emptied_tables_are_reported(
    context: AppContext, clock: FrozenClock, anchor: Path
) -> None:
    await _batches(context, clock, [3, 2])
    await _cut(context, from_batch=1)
    verdict = await _verdict(context, anchor)
    assert verdict["intact"] is False
    assert verdict["batches"] == 0
    [problem] = verdict["problems"]  # type: ignore[misc]
    assert "holds no sealed batch, yet batch 2 (5 rows in all)" in problem
    assert "both audit tables were emptied" in problem


async def test_a_back_dated_row_is_sealed_and_reported_and_a_late_commit_is_not(
    context: AppContext, clock: FrozenClock, anchor: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await _batches(context, clock, [2])
    sealed_at = clock.now() - timedelta(seconds=60)
    async with context.sessions() as session:
        forged = await session.scalar(
            insert(AuditEntry)
            .values(
                at=sealed_at - timedelta(hours=1),
                actor_type="staff",
                actor_id=str(uuid.uuid4()),
                action="alert.read",
                object_type="alert",
                object_id=uuid.uuid4(),
                detail={},
            )
            .returning(AuditEntry.id)
        )
        # A transaction that began 10 s before the seal and committed after it: legitimate.
        await session.execute(
            insert(AuditEntry).values(
                at=sealed_at - timedelta(seconds=10),
                actor_type="operator",
                actor_id="cli",
                action="user.create",
                object_type="staff_user",
                object_id=uuid.uuid4(),
                detail={},
            )
        )
        await session.commit()
    caplog.set_level(logging.INFO, logger="sigap.audit")
    await seal_audit(context)
    async with context.sessions() as session:
        unsealed = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.seal_batch.is_(None))
        )
    assert unsealed == 0  # sealed, never dropped
    [warning] = [
        r
        for r in caplog.records
        if "audit checkpoint" in r.getMessage() and r.levelno == logging.WARNING
    ]
    assert f"rows {forged} are dated well before the previous seal" in warning.getMessage()
    assert _lines(anchor)[-1].late == (forged,)
    verdict = await _verdict(context, anchor)
    assert verdict["late_rows"] == [forged]
    [problem] = verdict["problems"]  # type: ignore[misc]
    assert f"row {forged} (batch 2) is dated more than 300 s before batch 1" in problem


async def test_a_restore_checkpoint_is_understood(
    context: AppContext, clock: FrozenClock, anchor: Path
) -> None:
    await _batches(context, clock, [3, 2])
    backup_taken_at = clock.now() - timedelta(seconds=30)  # after batch 2, before batch 3
    await _batches(context, clock, [4])
    await _cut(context, from_batch=3)  # what restoring the backup does to the trail
    assert "were deleted from its end" in str((await _verdict(context, anchor))["problems"])

    async with context.sessions() as session:
        checkpoint = await write_restore_checkpoint(
            session, settings=context.settings, backup_taken_at=backup_taken_at, now=clock.now()
        )
    assert (checkpoint.kind, checkpoint.batch, checkpoint.total) == ("restore", 2, 5)
    clock.advance(60)
    await _batches(context, clock, [1])  # batch 3 again, another head: the restored trail's
    verdict = await _verdict(context, anchor)
    assert verdict["intact"] is True, verdict["problems"]
    [restore] = verdict["restores"]  # type: ignore[misc]
    assert restore.startswith(f"restored from a backup taken at {backup_taken_at.isoformat()}")
    assert "went on from batch 2; 1 checkpointed batches sealed after the backup" in restore
    async with context.sessions() as session:
        [detail] = (
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == RESTORE_ACTION)
            )
        ).all()
    assert detail["backup_taken_at"] == backup_taken_at.isoformat()

    # A restore line nobody audited (written by hand to hide a cut) is itself reported.
    forged = Checkpoint(
        kind="restore",
        batch=1,
        total=3,
        head="0" * 64,
        at=clock.now(),
        backup_taken_at=clock.now() - timedelta(days=1),
    )
    with anchor.open("a") as file:
        file.write(forged.to_json() + "\n")
    assert "has no audited row" in str((await _verdict(context, anchor))["problems"])


def _ring(*kids: str) -> str:
    return ",".join(
        f"{kid}:" + base64.urlsafe_b64encode(kid.encode() * 16)[:43].decode() for kid in kids
    )


async def test_the_chain_has_its_own_rotatable_key_and_old_batches_still_verify(
    context: AppContext,
    clock: FrozenClock,
    anchor: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    security = context.settings.security
    monkeypatch.setattr(audit_chain, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="sigap.audit"):
        assert audit_keys(context.settings).sealing_kid is None  # no ring: as before, warned
    assert "SIGAP_SECURITY__AUDIT_KEYS is not set" in caplog.text
    await _batches(context, clock, [2])  # sealed with the key derived from the JWT secret
    monkeypatch.setattr(security, "audit_keys", SecretStr(_ring("a1")))
    await _batches(context, clock, [2])
    monkeypatch.setattr(security, "audit_keys", SecretStr(_ring("a2", "a1")))  # rotated
    await _batches(context, clock, [2])
    async with context.sessions() as session:
        kids = (await session.scalars(select(AuditSeal.key_id).order_by(AuditSeal.id))).all()
    assert kids == [None, "a1", "a2"]
    assert (await _verdict(context, anchor))["intact"] is True

    monkeypatch.setattr(security, "audit_keys", SecretStr(_ring("a2")))  # a1 dropped too soon
    assert "sealed with audit key 'a1', which is not in" in str(
        (await _verdict(context, anchor))["problems"]
    )
    wrong = AuditKeys(sealing_kid="a1", ring=parse_ring(_ring("a2", "a1")), derived=b"x" * 32)
    async with context.sessions() as session:
        assert not (await verify(session, keys=wrong)).intact  # the derived key still matters

    monkeypatch.setattr(security, "audit_keys", SecretStr("a1:not-a-key"))
    monkeypatch.setattr(audit_chain, "_warned", False)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sigap.audit"):
        assert audit_keys(context.settings).sealing_kid is None  # malformed: never refused
    assert "SIGAP_SECURITY__AUDIT_KEYS is malformed" in caplog.text


def test_sigap_secrets_prints_an_audit_key_ring(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    assert main(["secrets"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if "AUDIT_KEYS" in x]
    name, _, spec = line.partition("=")
    assert name == "SIGAP_SECURITY__AUDIT_KEYS"
    assert list(parse_ring(spec)) == ["a1"]


async def test_the_commands_seal_verify_and_record_a_restore(
    context: AppContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`sigap audit seal | verify | checkpoint --restored-from T` on the test database, with
    the wall clock (the commands' own)."""
    settings = context.settings
    path = tmp_path / "audit.jsonl"
    for name, value in {
        "SIGAP_DATABASE_URL": settings.database_url,
        "SIGAP_DEV": "1",
        "SIGAP_SECURITY__SECRET_KEY": settings.security.secret_key.get_secret_value(),
        "SIGAP_SECURITY__ENCRYPTION_KEYS": settings.security.encryption_keys.get_secret_value(),
        "SIGAP_SECURITY__AUDIT_KEYS": _ring("a1"),
        "SIGAP_SECURITY__AUDIT_CHECKPOINT_FILE": str(path),
    }.items():
        monkeypatch.setenv(name, value)

    async def run(*argv: str) -> tuple[int, str]:
        from app.cli import main

        code = await asyncio.to_thread(main, list(argv))
        return code, capsys.readouterr().out

    async def write(n: int) -> None:
        async with context.sessions() as session:
            for _ in range(n):
                record(
                    session,
                    principal=None,
                    action="alert.read",
                    object_type="alert",
                    object_id=uuid.uuid4(),
                    at=datetime.now(UTC),
                )
            await session.commit()

    await write(3)
    assert (await run("audit", "seal"))[0] == 0
    backup_taken_at = datetime.now(UTC)
    await write(2)
    assert (await run("audit", "seal")) == (0, "sealed=2\n")
    code, out = await run("audit", "verify")
    assert (code, json.loads(out)["checkpoints"], json.loads(out)["intact"]) == (0, 2, True)

    await _cut(context, from_batch=2)
    code, out = await run("audit", "verify")
    assert code == 1 and "were deleted from its end" in out
    code, out = await run("audit", "checkpoint", "--restored-from", backup_taken_at.isoformat())
    assert (code, json.loads(out)["kind"], json.loads(out)["batch"]) == (0, "restore", 1)
    code, out = await run("audit", "verify", "--checkpoints", str(path))
    assert code == 0, out
    assert len(json.loads(out)["restores"]) == 1
    assert (await run("audit", "checkpoint", "--restored-from", "2026-12-07T03:00:00"))[0] == 2
