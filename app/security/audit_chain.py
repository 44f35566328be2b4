"""The tamper-evident audit trail: seal rows in batches, verify the chain.

A chain link per row at insert time would serialise every press and every read on one lock, so
rows go in unchained (``app.audit.record``) and a background sealer chains them afterwards: each
batch takes the unsealed rows in id order, links each to the one before with an HMAC keyed
outside the database (so whoever can write the table cannot forge links), and records the batch
(row count and last link) in ``audit_seal``. Batches are numbered consecutively; two sealers
racing for the same number cannot both commit it.

``verify`` walks every batch again and reports a row that was changed, inserted among sealed
ones or deleted from them, and how many rows are not sealed yet.

Whoever can write the database can also delete the newest batches with their seals, or empty
both tables, and leave a shorter chain that verifies. So each seal's head also leaves the
database (``app.security.audit_anchor``): the process log and a checkpoint file that ``verify``
checks the trail against. A row dated well before the previous seal (inserted afterwards with a
back-dated time) is sealed like any other — never dropped — and reported, at sealing and by
``verify``.

The chain has a key ring of its own (``SIGAP_SECURITY__AUDIT_KEYS``): each seal names the key
that sealed it; batches sealed before the ring (``key_id`` null) verify with the key derived from
the JWT secret, as they were sealed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import ShellOperator, record
from app.config import Settings
from app.context import AppContext
from app.models import AuditEntry, AuditSeal
from app.security.audit_anchor import Checkpoint, append_checkpoint, compare_checkpoints

GENESIS = "0" * 64
log = logging.getLogger("sigap.audit")


def chain_key(secret: str) -> bytes:
    """The chain's first keying, derived from the JWT secret: batches sealed with ``key_id``
    null verify with it."""
    return hmac.new(secret.encode(), b"sigap audit chain v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class AuditKeys:
    """The key that seals new batches, and every key a batch may have been sealed with."""

    sealing_kid: str | None
    """None: no ring configured, new batches are sealed with the derived key as before."""
    ring: dict[str, bytes]
    derived: bytes

    @classmethod
    def single(cls, key: bytes) -> AuditKeys:
        """One key for everything (tests, and chains sealed only with the derived key)."""
        return cls(sealing_kid=None, ring={}, derived=key)

    @property
    def sealing(self) -> bytes:
        return self.derived if self.sealing_kid is None else self.ring[self.sealing_kid]

    def for_seal(self, kid: str | None) -> bytes | None:
        return self.derived if kid is None else self.ring.get(kid)


def parse_ring(spec: str) -> dict[str, bytes]:
    """ "kid:base64url(32 bytes),…" in order; raises ValueError naming what is wrong."""
    ring: dict[str, bytes] = {}
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        kid, _, encoded = entry.partition(":")
        try:
            key = base64.urlsafe_b64decode(encoded + "==")
        except (binascii.Error, ValueError):
            key = b""
        if not kid or len(kid) > 32 or len(key) != 32 or kid in ring:
            raise ValueError(f"audit key {kid!r}: expected a unique kid and 32 bytes")
        ring[kid] = key
    return ring


_warned = False


def audit_keys(settings: Settings) -> AuditKeys:
    """The ring from ``SIGAP_SECURITY__AUDIT_KEYS``. Missing or malformed, the chain stays
    keyed from the JWT secret and a warning says what to do: intake is never refused for it."""
    global _warned
    derived = chain_key(settings.effective_secret_key)
    try:
        ring = parse_ring(settings.security.audit_keys.get_secret_value())
    except ValueError as exc:
        ring, problem = {}, f"SIGAP_SECURITY__AUDIT_KEYS is malformed ({exc})"
    else:
        problem = "SIGAP_SECURITY__AUDIT_KEYS is not set"
    if not ring and not _warned:
        _warned = True
        log.warning(
            "%s: the audit chain goes on keyed from SIGAP_SECURITY__SECRET_KEY; add the "
            "SIGAP_SECURITY__AUDIT_KEYS line `sigap secrets` prints (batches sealed so far "
            "keep verifying)",
            problem,
        )
    return AuditKeys(sealing_kid=next(iter(ring), None), ring=ring, derived=derived)


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
    session: AsyncSession,
    *,
    keys: AuditKeys,
    now: datetime,
    limit: int = 1000,
    tolerance: timedelta = timedelta(seconds=300),
) -> Checkpoint | None:
    """Seal one batch of at most ``limit`` unsealed rows; commits. Returns the batch's head
    (None when there was nothing to seal or another sealer took the batch number first).
    Rows dated more than ``tolerance`` before the previous seal are sealed too, and named in
    the head as ``late``."""
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
        return None
    batch = (last.id if last else 0) + 1
    before = 0
    if last is not None:
        before = last.total if last.total is not None else await _sealed_rows(session)
    previous = last.head if last else GENESIS
    key = keys.sealing
    late = late_rows(rows, after=last, tolerance=tolerance)
    for row in rows:
        previous = link(key, previous, row)
        row.seal_batch, row.chain = batch, previous
    seal = AuditSeal(
        id=batch,
        sealed_at=now,
        rows=len(rows),
        head=previous,
        key_id=keys.sealing_kid,
        total=before + len(rows),
    )
    session.add(seal)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # another sealer committed this batch: its rows are sealed
        return None
    return Checkpoint(
        kind="seal",
        batch=batch,
        total=before + len(rows),
        head=previous,
        at=now,
        key=keys.sealing_kid,
        rows=len(rows),
        late=tuple(late),
    )


async def _sealed_rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.sum(AuditSeal.rows), 0))) or 0)


def late_rows(
    rows: Sequence[AuditEntry], *, after: AuditSeal | None, tolerance: timedelta
) -> list[int]:
    """Rows dated more than ``tolerance`` before the previous batch was sealed: inserted
    after it with a back-dated time (a transaction that began before a seal and committed
    after it stays within the tolerance)."""
    if after is None:
        return []
    bound = _utc(after.sealed_at) - tolerance
    return [row.id for row in rows if _utc(row.at) < bound]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Verdict:
    sealed: int = 0
    unsealed: int = 0
    batches: int = 0
    problems: list[str] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    """Sealed rows dated more than the tolerance before the batch before theirs."""
    checkpoints: int = 0
    """Checkpoints the trail was checked against (0: its tail could not be checked)."""
    restores: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
            "late_rows": self.late,
            "checkpoints": self.checkpoints,
            "restores": self.restores,
            "warnings": self.warnings,
        }


async def verify(
    session: AsyncSession,
    *,
    keys: AuditKeys,
    checkpoints: Sequence[Checkpoint] | None = None,
    tolerance: timedelta = timedelta(seconds=300),
    page: int = 5000,
) -> Verdict:
    """Walk every batch; with ``checkpoints`` (the anchor file's lines, oldest first), also
    check the trail still reaches and matches every head recorded outside the database."""
    verdict = Verdict()
    seals = (await session.scalars(select(AuditSeal).order_by(AuditSeal.id))).all()
    verdict.batches = len(seals)
    previous = GENESIS
    before: AuditSeal | None = None
    for expected_id, seal in enumerate(seals, start=1):
        if seal.id != expected_id:
            verdict.problems.append(f"batch {expected_id} is missing (found {seal.id} next)")
        key = keys.for_seal(seal.key_id)
        if key is None:
            verdict.problems.append(
                f"batch {seal.id} was sealed with audit key {seal.key_id!r}, which is not in "
                "SIGAP_SECURITY__AUDIT_KEYS (keep retired keys in the ring to verify)"
            )
            key = b""
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
            for late in late_rows(rows, after=before, tolerance=tolerance):
                verdict.late.append(late)
                verdict.problems.append(
                    f"row {late} (batch {seal.id}) is dated more than "
                    f"{tolerance.total_seconds():g} s before batch {seal.id - 1} was sealed: "
                    "inserted after the fact with a back-dated time (sealed and kept)"
                )
        verdict.sealed += counted
        if counted != seal.rows:
            verdict.problems.append(
                f"batch {seal.id} sealed {seal.rows} rows and holds {counted}: "
                f"{'deleted' if counted < seal.rows else 'inserted'} rows"
            )
        elif previous != seal.head:
            verdict.problems.append(f"batch {seal.id} ends on another link than it was sealed")
        previous = seal.head
        before = seal
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
    if checkpoints is not None:
        restored = await _restore_rows(session)
        found = compare_checkpoints(
            checkpoints,
            {s.id: (s.head, _utc(s.sealed_at)) for s in seals},
            restored=restored,
        )
        verdict.checkpoints = found.checked
        verdict.problems += found.problems
        verdict.restores += found.restores
        if not checkpoints:
            verdict.warnings.append(
                "no checkpoint to check against: batches deleted from the end of the trail "
                "(or both tables emptied) cannot be told"
            )
    return verdict


async def _restore_rows(session: AsyncSession) -> set[str]:
    """The backup times of the audited "restored from backup" checkpoints in this database."""
    details = (
        await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == RESTORE_ACTION))
    ).all()
    return {str(d.get("backup_taken_at")) for d in details if isinstance(d, dict)}


RESTORE_ACTION = "audit.restored_from_backup"


async def write_restore_checkpoint(
    session: AsyncSession, *, settings: Settings, backup_taken_at: datetime, now: datetime
) -> Checkpoint:
    """After restoring a backup taken at ``backup_taken_at`` (``sigap restore``, or by hand):
    an audited row and a checkpoint saying the trail now ends where the backup's did, so
    ``verify`` takes the batches sealed after the backup as given up, not cut. Run it on the
    restored database before the service starts on it."""
    last = await session.scalar(select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1))
    total = 0
    if last is not None:
        total = last.total if last.total is not None else await _sealed_rows(session)
    taken = _utc(backup_taken_at).astimezone(UTC)
    record(
        session,
        principal=ShellOperator.current(),  # an operator's act, under their own name
        action=RESTORE_ACTION,
        object_type="audit_trail",
        object_id=None,
        at=now,
        detail={
            "backup_taken_at": taken.isoformat(),
            "batch": last.id if last else 0,
            "head": last.head if last else GENESIS,
        },
    )
    await session.commit()
    checkpoint = Checkpoint(
        kind="restore",
        batch=last.id if last else 0,
        total=total,
        head=last.head if last else GENESIS,
        at=now,
        backup_taken_at=taken,
    )
    append_checkpoint(settings.audit_checkpoint_path, checkpoint)
    return checkpoint


async def seal_audit(context: AppContext) -> None:
    """The sealer loop's body: seal batches until the backlog is gone, each head anchored in
    the log and the checkpoint file as soon as it is committed."""
    settings = context.settings
    keys = audit_keys(settings)
    tolerance = timedelta(seconds=settings.security.audit_late_tolerance_s)
    while True:
        async with context.sessions() as session:
            head = await seal_pending(
                session, keys=keys, now=context.clock.now(), tolerance=tolerance
            )
        if head is None:
            return
        await asyncio.to_thread(append_checkpoint, settings.audit_checkpoint_path, head)
        if head.rows < 1000:
            return
