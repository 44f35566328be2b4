"""``sigap backup`` and ``sigap restore``: a consistent copy of the SQLite database while serving,
and putting one back.

sigap backup PATH              a consistent copy of the running database (SQLite), in one step
sigap restore BACKUP [--replace]
                               the copy becomes the database named by SIGAP_DATABASE_URL; a new
                               stream epoch and an audited "restored" record

The copy is taken with SQLite's online backup API in ONE step (``pages=-1``): it reads a single
snapshot under a read transaction, which in WAL mode never blocks the server's writers. A
step-wise copy restarts whenever the server writes between steps, and under a steady stream of
presses may never finish. The copy is written beside its destination and renamed into place, so a
crash half-way leaves no file that looks like a backup.

A backup is the victims' data: it is readable with the key ring in ``.env``, and useless without
it. Keep the two apart (the key in a password manager or vault, the copies encrypted at rest),
and keep both: a backup without its keys cannot be restored into anything readable.

Restoring keeps the copy's stream epoch unless told otherwise, so clients whose cursor is past the
copy's head would silently skip the events numbered again; the restore therefore replaces the
epoch (every console and phone resumes with ``resync_required``) and writes an audit row saying
from which copy, taken when, the database was restored. PostgreSQL has its own tools (see
docs/deploy.md section 4): these commands refuse it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import ShellOperator, record
from app.cli_support import fail, run
from app.config import Settings
from app.security.audit_anchor import Checkpoint

_KEYS_REMINDER = (
    "This copy holds victims' data, readable with the encryption keys in .env and useless\n"
    "without them: store the keys apart from the copies (a vault or password manager), keep\n"
    "the copies encrypted at rest, and keep both."
)


class BackupRefused(Exception):
    """A backup or restore that would be unsafe: the message says why and what to do."""


def sqlite_path(settings: Settings) -> Path:
    if not settings.is_sqlite:
        raise BackupRefused(
            "the database is PostgreSQL: back it up with pg_basebackup/pgBackRest or pg_dump "
            "and restore with docs/deploy.md section 4"
        )
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupRefused("the SQLite database has no file to copy")
    return Path(database)


def copy_database(source: Path, target: Path) -> None:
    """Copy ``source`` into a new file ``target`` as one consistent snapshot, then check it."""
    if target.exists():
        raise BackupRefused(f"{target} exists: choose a new name (a backup never overwrites)")
    if not source.is_file():
        raise BackupRefused(f"{source} does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            # The server may hold the write lock for a moment: wait for it, as the server does.
            src.execute("PRAGMA busy_timeout = 30000")
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside
            verdict = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise BackupRefused(f"the copy failed SQLite's integrity check: {verdict}")
        finally:
            dst.close()
    finally:
        src.close()
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def newest_record_at(path: Path) -> datetime | None:
    """The newest time written in the copy (events and audit rows): what it is a backup *of*."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT max(t) FROM (SELECT max(created_at) AS t FROM outbox_event"
            " UNION ALL SELECT max(at) FROM audit_entry)"
        ).fetchone()
    if row is None or row[0] is None:
        return None
    value = datetime.fromisoformat(str(row[0]))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        source = sqlite_path(settings)
        target = Path(args.path)
        copy_database(source, target)
    except (BackupRefused, sqlite3.Error) as exc:
        return fail(f"backup refused: {exc}")
    size_mib = target.stat().st_size / 2**20
    print(f"backed up {source} to {target} ({size_mib:.1f} MiB, integrity checked)")
    print(_KEYS_REMINDER)
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    try:
        target = sqlite_path(settings)
        backup = Path(args.backup)
        taken = newest_record_at(backup) if backup.is_file() else None
        if target.exists():
            if not args.replace:
                raise BackupRefused(
                    f"{target} exists: stop the server, then run again with --replace "
                    "(or restore into a new SIGAP_DATABASE_URL)"
                )
            _set_aside(target)
        copy_database(backup, target)
    except (BackupRefused, sqlite3.Error) as exc:
        return fail(f"restore refused: {exc}")

    epoch = run(settings, lambda session: _after_restore(session, backup=backup, taken=taken))
    anchor = run(settings, lambda session: _audit_checkpoint(session, settings, taken=taken))
    print(f"restored {backup} into {target}")
    print(f"audit trail checkpointed as restored at batch {anchor.batch} (`sigap audit verify`)")
    if taken is not None:
        print(f"its newest record is from {taken.isoformat()}: anything later is not in it")
    print(f"stream epoch replaced ({epoch}): every console and phone resynchronises")
    return 0


def _set_aside(target: Path) -> None:
    """Keep the database being replaced (and its WAL) under a dated name: a restore is undoable."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{target}{suffix}")
        if path.exists():
            path.rename(Path(f"{target}.replaced-{stamp}{suffix}"))


async def _after_restore(session: AsyncSession, *, backup: Path, taken: datetime | None) -> str:
    from app.realtime.epoch import new_epoch

    epoch = await new_epoch(session)
    detail: dict[str, Any] = {"file": backup.name}
    if taken is not None:
        detail["newest_record_at"] = taken.isoformat()
    record(session, principal=ShellOperator.current(), action="database.restored",
           object_type="database", object_id=None, at=datetime.now(UTC), detail=detail)
    return epoch


async def _audit_checkpoint(
    session: AsyncSession, settings: Settings, *, taken: datetime | None
) -> Checkpoint:
    """The audit chain's "restored from a backup taken at T" checkpoint, so that ``sigap audit
    verify`` takes the batches sealed after the copy as given up, not cut. T is the copy's
    newest record: any seal after it is not in the copy."""
    from app.security.audit_chain import write_restore_checkpoint

    now = datetime.now(UTC)
    return await write_restore_checkpoint(
        session, settings=settings, backup_taken_at=taken or now, now=now
    )


def add_parsers(sub: Any) -> None:
    backup = sub.add_parser(
        "backup", help="a consistent copy of the SQLite database, safe while serving"
    )
    backup.add_argument("path", help="the new file to write (never overwritten)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser(
        "restore", help="put a backup in place of the SQLite database (server stopped)"
    )
    restore.add_argument("backup", help="a file written by `sigap backup`")
    restore.add_argument(
        "--replace", action="store_true",
        help="replace an existing database (kept beside it as *.replaced-<time>)",
    )
    restore.set_defaults(func=cmd_restore)


