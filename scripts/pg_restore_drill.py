"""The PostgreSQL restore drill: prove that a backup restores into something Sigap can serve.

    python scripts/pg_restore_drill.py --into postgresql://user@scratch-host/sigap_drill \
        (--from postgresql://user@prod-replica/sigap | --dump /backups/sigap-2026-12-07.dump)

Run it monthly (docs/deploy.md section 4), with the same SIGAP_SECURITY__* keys as production in
the environment (the audit chain verifies with them). It
1. takes a custom-format dump of ``--from`` (``pg_dump -Fc``), or uses the dump file given;
2. creates the scratch database ``--into`` (it must not exist: a drill never overwrites) and
   restores the dump into it (``pg_restore --no-owner --exit-on-error``);
3. runs ``sigap migrate`` against it, as an upgrade after a restore would;
4. checks it: the row counts of the tables that matter equal the source's (with ``--from``),
   ``sigap audit verify`` finds the sealed trail intact, and the stream epoch differs from the
   source's (clients of the restored database resync instead of skipping events);
and prints one line per step. Exit 0 when the drill passed, 1 when a check failed, 2 on usage.
The scratch database is left for inspection; drop it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
TABLES = ("alert", "alert_location", "assignment", "outbox_event", "audit_entry", "staff_user")


def _libpq(url: str) -> str:
    return str(make_url(url).set(drivername="postgresql"))


def _tool(name: str, bindir: str | None) -> str:
    found = str(Path(bindir) / name) if bindir else shutil.which(name)
    if not found:
        raise SystemExit(f"error: {name} not found (install PostgreSQL's client or use --bindir)")
    return found


def _step(text: str, started: float) -> None:
    print(f"drill: {text} ({time.monotonic() - started:.1f} s)", flush=True)


async def _counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(_libpq(url))
    try:
        return {t: int(await connection.fetchval(f'SELECT count(*) FROM "{t}"')) for t in TABLES}
    finally:
        await connection.close()


async def _create(url: str) -> None:
    target = make_url(_libpq(url))
    admin = await asyncpg.connect(str(target.set(database="postgres")))
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if exists:
            raise SystemExit(f"error: {target.database} exists: a drill restores into a new one")
        await admin.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.close()


def _sigap(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIGAP_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *argv], cwd=REPO, env=env, text=True,
        capture_output=True, check=False,
    )


async def _epoch(url: str) -> str:
    from app.config import Settings
    from app.db import create_engine, create_sessionmaker
    from app.realtime.epoch import stream_epoch

    engine = create_engine(Settings(database_url=url), pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            return await stream_epoch(session)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", required=True, help="the scratch database to create")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="source", help="a database to dump and compare with")
    source.add_argument("--dump", help="a pg_dump -Fc file from your backups")
    parser.add_argument("--bindir", help="where pg_dump and pg_restore are (default: PATH)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    failed = False

    with tempfile.TemporaryDirectory(prefix="sigap-drill-") as work:
        dump = Path(args.dump) if args.dump else Path(work) / "sigap.dump"
        if args.source:
            subprocess.run(
                [_tool("pg_dump", args.bindir), "-Fc", "-f", str(dump), _libpq(args.source)],
                check=True,
            )
            _step(f"dumped the source ({dump.stat().st_size / 2**20:.1f} MiB)", started)
        asyncio.run(_create(args.into))
        subprocess.run(
            [_tool("pg_restore", args.bindir), "--no-owner", "--exit-on-error",
             "-d", _libpq(args.into), str(dump)],
            check=True,
        )
        _step("restored into the scratch database", started)

    migrated = _sigap(args.into, "migrate")
    if migrated.returncode != 0:
        print(f"drill: FAILED: sigap migrate:\n{migrated.stderr}", file=sys.stderr)
        return 1
    _step("sigap migrate passed", started)

    restored = asyncio.run(_counts(args.into))
    if args.source:
        original = asyncio.run(_counts(args.source))
        for table in TABLES:
            ok = restored[table] == original[table]
            failed |= not ok
            print(f"drill: {table}: {restored[table]} rows"
                  f"{'' if ok else f' (the source has {original[table]}): FAILED'}")
        same_epoch = asyncio.run(_epoch(args.into)) == asyncio.run(_epoch(args.source))
        failed |= same_epoch
        print("drill: stream epoch " + ("UNCHANGED: clients would skip events: FAILED"
                                        if same_epoch else "renewed: clients will resync"))
    else:
        print("drill: " + ", ".join(f"{t} {n}" for t, n in restored.items()))

    verified = _sigap(args.into, "audit", "verify")
    failed |= verified.returncode != 0
    print("drill: audit trail " + ("intact" if verified.returncode == 0 else
                                   f"NOT intact: FAILED\n{verified.stdout}{verified.stderr}"))
    _step("passed" if not failed else "FAILED", started)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
