"""The audit chain's anchor outside the database: every seal's head (batch, running row count,
last link, time) goes to the process log and is appended to a checkpoint file, and ``verify``
checks the trail against those lines.

Whoever can rewrite the database cannot rewrite what has already left it: a SIEM that collects
the log, or a copy of the checkpoint file kept on another host. The file's default place (beside
the SQLite file) is only as safe as that disk: document and ship it elsewhere. Lines are JSON,
one per seal, appended with ``O_APPEND`` in one write (several processes of one host may share
the file) and flushed to disk before the sealer goes on.

A restore from a backup legitimately ends the trail where the backup's ended; the restore line
(``kind: "restore"``, written by ``sigap audit checkpoint --restored-from T``, with an audited
row in the restored database) tells ``verify`` that the heads checkpointed after that point
before the restore were given up, not cut.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger("sigap.audit")
SAME_TIME = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Checkpoint:
    kind: Literal["seal", "restore"]
    batch: int
    total: int
    """Rows sealed up to and including ``batch``."""
    head: str
    at: datetime
    """When the batch was sealed (a restore line: when it was written)."""
    key: str | None = None
    rows: int = 0
    late: tuple[int, ...] = ()
    """Rows of the batch dated more than the tolerance before the previous seal."""
    backup_taken_at: datetime | None = None

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "kind": self.kind,
            "batch": self.batch,
            "total": self.total,
            "head": self.head,
            "at": self.at.astimezone(UTC).isoformat(),
        }
        if self.kind == "seal":
            body |= {"rows": self.rows, "key": self.key, "late": list(self.late)}
        if self.backup_taken_at is not None:
            body["backup_taken_at"] = self.backup_taken_at.astimezone(UTC).isoformat()
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        body = json.loads(line)
        kind = body["kind"]
        if kind not in ("seal", "restore"):
            raise ValueError(f"unknown kind {kind!r}")
        taken = body.get("backup_taken_at")
        return cls(
            kind=kind,
            batch=int(body["batch"]),
            total=int(body["total"]),
            head=str(body["head"]),
            at=_aware(datetime.fromisoformat(body["at"])),
            key=body.get("key"),
            rows=int(body.get("rows", 0)),
            late=tuple(int(i) for i in body.get("late", ())),
            backup_taken_at=_aware(datetime.fromisoformat(taken)) if taken else None,
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _logger() -> logging.Logger:
    """INFO reaches the process log even when nothing configured the ``sigap`` loggers
    (uvicorn configures its own only): the anchor must not depend on a log level."""
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
    return log


def append_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Log the head and append it to the checkpoint file. A file that cannot be written is
    logged loudly and never stops the sealer: the log line has gone out all the same."""
    line = checkpoint.to_json()
    logger = _logger()
    if checkpoint.late:
        logger.warning(
            "audit checkpoint %s; rows %s are dated well before the previous seal: inserted "
            "after the fact (sealed, and reported by `sigap audit verify`)",
            line,
            ",".join(map(str, checkpoint.late)),
        )
    else:
        logger.info("audit checkpoint %s", line)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.error("audit checkpoint file %s could not be written: %s", path, exc)


def read_checkpoints(paths: Sequence[Path]) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint of ``paths`` in file order, and warnings (a missing file, bad lines)."""
    found: list[Checkpoint] = []
    warnings: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            warnings.append(f"no checkpoint file at {path}")
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                found.append(Checkpoint.from_json(line))
            except (ValueError, KeyError, TypeError):
                warnings.append(f"{path}:{number}: not a checkpoint line, skipped")
    # Several hosts' files interleave by time: a restore line must come after every head
    # sealed before it, whichever file holds them (the sort is stable within a file).
    found.sort(key=lambda checkpoint: checkpoint.at)
    return found, warnings


@dataclass
class Comparison:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    restores: list[str] = field(default_factory=list)


def compare_checkpoints(
    checkpoints: Sequence[Checkpoint],
    seals: Mapping[int, tuple[str, datetime]],
    *,
    restored: set[str],
) -> Comparison:
    """Pure: the trail's seals (batch → head, sealed at) against the checkpoints, oldest
    first. A restore line gives up the heads written before it past the backup (a higher
    batch, or sealed after the backup was taken); every other head must still be there."""
    result = Comparison()
    given_up: set[int] = set()
    for index, restore in enumerate(checkpoints):
        if restore.kind != "restore":
            continue
        taken = restore.backup_taken_at or restore.at
        lost = [
            j
            for j in range(index)
            if j not in given_up
            and (
                checkpoints[j].batch > restore.batch
                or (checkpoints[j].kind == "seal" and checkpoints[j].at > taken)
            )
        ]
        given_up.update(lost)
        result.restores.append(
            f"restored from a backup taken at {taken.isoformat()} (checkpoint written "
            f"{restore.at.isoformat()}): the trail went on from batch {restore.batch}; "
            f"{sum(checkpoints[j].kind == 'seal' for j in lost)} checkpointed batches "
            "sealed after the backup were given up"
        )
        if taken.isoformat() not in restored:
            result.problems.append(
                f"the restore checkpoint for a backup taken at {taken.isoformat()} has no "
                "audited row in this database: written by hand, or the row was deleted"
            )
    last = max(seals, default=0)
    cut: list[Checkpoint] = []
    for index, checkpoint in enumerate(checkpoints):
        if index in given_up:
            continue
        result.checked += 1
        if checkpoint.batch == 0:
            continue  # a restore of a trail with nothing sealed
        if checkpoint.batch not in seals:
            if checkpoint.batch > last:
                cut.append(checkpoint)
            else:
                result.problems.append(
                    f"batch {checkpoint.batch}, checkpointed at {checkpoint.at.isoformat()}, "
                    "is missing from the trail"
                )
            continue
        head, sealed_at = seals[checkpoint.batch]
        if head != checkpoint.head:
            result.problems.append(
                f"batch {checkpoint.batch} does not end on the head checkpointed at "
                f"{checkpoint.at.isoformat()}: the trail was rewritten from there"
            )
        elif checkpoint.kind == "seal" and abs(sealed_at - checkpoint.at) > SAME_TIME:
            result.problems.append(
                f"batch {checkpoint.batch}'s seal time was changed (checkpointed "
                f"{checkpoint.at.isoformat()}, now {sealed_at.isoformat()})"
            )
    if cut:
        newest = max(cut, key=lambda c: c.batch)
        if not seals:
            result.problems.append(
                f"the trail holds no sealed batch, yet batch {newest.batch} ({newest.total} "
                f"rows in all) was checkpointed at {newest.at.isoformat()}: both audit tables "
                "were emptied"
            )
        else:
            result.problems.append(
                f"the trail ends at batch {last}, yet batch {newest.batch} ({newest.total} rows "
                f"in all) was checkpointed at {newest.at.isoformat()}: batches "
                f"{last + 1} to {newest.batch} were deleted from its end"
            )
    return result
