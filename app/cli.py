"""The ``sigap`` command for operators.

sigap serve [--host H] [--port P] [--workers N] [--role all|intake|worker]
                                                   migrate, load reference data if missing, serve
sigap migrate                                      apply pending migrations (under a lock)
sigap reference load [--replace-units]             load or refresh every region bundle
sigap units import FILE --region CODE              upsert posts/desks from an operator's file
sigap units list | hours …, sigap shift add | list | end …   see app/cli_rosters.py
sigap user create | list | disable | enable | reset-password | set-role …   see app/cli_users.py
sigap integrator create NAME --scope SCOPE ...     prints the client id and secret once
sigap integrator rotate CLIENT_ID | revoke CLIENT_ID | list
sigap stream new-epoch                             after restoring a SQLite file: clients resync
sigap backup PATH | restore BACKUP [--replace]     SQLite: a consistent copy while serving, and
                                                   back (see app/cli_backup.py)
sigap keys rotate | pins                           re-encrypt fields | PIN hashes per pepper
sigap secrets                                      prints fresh secrets for a .env file
sigap audit verify [--checkpoints FILE] | seal | checkpoint --restored-from T
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.cli_support import in_session, print_rows
from app.config import Settings, trusted_proxies_refusal
from app.db import create_engine, create_sessionmaker
from app.errors import DomainError
from app.security.fields import new_key_spec


def _now() -> datetime:
    return datetime.now(UTC)


async def prepare(settings: Settings) -> None:
    """Migrate, then load reference data when the database has none."""
    from app.migrate import upgrade
    from app.reference.loader import is_loaded, load_all

    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"sigap: database {shown}: applying any pending migrations", flush=True)
    await upgrade(settings)

    async def load_if_missing(session):  # type: ignore[no-untyped-def]
        if not await is_loaded(session):
            for report in await load_all(
                session, extra_dirs=settings.geo.extra_region_dirs, now=_now()
            ):
                print(
                    f"loaded reference data for {report.region}: {report.areas} areas, "
                    f"{report.stations} stations, {report.units_added} units"
                )
        from app.models import StaffUser

        has_admin = await session.scalar(
            select(StaffUser.id).where(StaffUser.role == "admin").limit(1)
        )
        if has_admin is None:
            print(admin_hint(settings))

    await in_session(settings, load_if_missing)


def admin_hint(settings: Settings) -> str:
    """What to run next on a database with no admin. On PostgreSQL the command must name the same
    database: without SIGAP_DATABASE_URL it would write to the default SQLite file instead."""
    command = ".venv/bin/sigap user create admin --role admin --unit central"
    if settings.is_sqlite:
        where = ""
    elif "SIGAP_DATABASE_URL" in os.environ:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        command = f"SIGAP_DATABASE_URL='{shown}' {command}"
        where = " (give the password where *** stands, or export SIGAP_DATABASE_URL)"
    else:
        where = " (it reads SIGAP_DATABASE_URL from .env, as the server did)"
    return (
        f"No admin account yet. Create one with:\n  {command}\n"
        f"It reads the password from standard input{where}."
    )


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import RoleRefused, build_context, check_role

    settings = settings.model_copy(update={"role": args.role})
    # Left unset, uvicorn reads FORWARDED_ALLOW_IPS (default: loopback only).
    refusal = trusted_proxies_refusal(
        args.forwarded_allow_ips or os.environ.get("FORWARDED_ALLOW_IPS"), settings
    )
    if refusal is not None:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    try:
        check_role(settings)
    except RoleRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The role travels in the environment: uvicorn's worker processes build their own settings.
    os.environ["SIGAP_ROLE"] = args.role
    if settings.is_sqlite and args.workers > 1:
        print(
            "error: SQLite runs with one worker only; use PostgreSQL (SIGAP_DATABASE_URL) "
            "for several workers",
            file=sys.stderr,
        )
        return 2
    build_context(settings)  # refuses unsafe settings before anything is touched
    asyncio.run(prepare(settings))
    metrics_dir = None
    if args.workers > 1:
        # Every worker's metrics in every scrape (app/observability.py): a fresh directory per
        # start, so no dead run's samples are ever added in.
        metrics_dir = tempfile.mkdtemp(prefix="sigap-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    print(
        f"sigap: serving on http://{args.host}:{args.port}/ (the console; API docs at /docs); "
        "Ctrl+C stops it",
        flush=True,
    )
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
            timeout_graceful_shutdown=10,
            ws="websockets-sansio",  # the maintained implementation (the legacy one is deprecated)
            ws_ping_interval=20.0,  # protocol pings keep idle sockets open through mobile carriers
            # permessage-deflate keeps two zlib contexts per socket (about 50 KiB each side) to
            # shrink messages of a few hundred bytes: not worth it at thousands of idle sockets.
            ws_per_message_deflate=False,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def cmd_stream_new_epoch(_args: argparse.Namespace, settings: Settings) -> int:
    from app.realtime.epoch import new_epoch

    epoch = asyncio.run(in_session(settings, new_epoch))
    print(f"stream epoch replaced ({epoch}): every client resumes with resync_required")
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from app.migrate import upgrade

    asyncio.run(upgrade(settings))
    print("migrations applied")
    return 0


def cmd_reference_load(args: argparse.Namespace, settings: Settings) -> int:
    from app.migrate import upgrade
    from app.reference.loader import load_all

    asyncio.run(upgrade(settings))
    reports = asyncio.run(
        in_session(
            settings,
            lambda s: load_all(
                s,
                extra_dirs=settings.geo.extra_region_dirs + [Path(p) for p in args.region_dir],
                now=_now(),
                replace_units=args.replace_units,
            ),
        )
    )
    for r in reports:
        print(
            f"{r.region}: {r.areas} areas, {r.partners} partners, {r.stations} stations, "
            f"{r.holidays} holidays, units added {r.units_added}, replaced {r.units_updated}"
        )
    return 0


def cmd_units_import(args: argparse.Namespace, settings: Settings) -> int:
    from app.reference.loader import import_units

    try:
        added, updated = asyncio.run(
            in_session(
                settings,
                lambda s: import_units(s, Path(args.file), region_code=args.region, now=_now()),
            )
        )
    except (ValueError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"units added {added}, updated {updated}")
    return 0


def _integrator_audit(session, action: str, client_id: str) -> None:  # type: ignore[no-untyped-def]
    """The same audit entry as the admin API writes, with the operating-system user as actor."""
    from app.audit import ShellOperator, record

    record(session, principal=ShellOperator.current(), action=action, object_type="integrator",
           object_id=None, at=_now(), detail={"client_id": client_id})


def _print_credential(credential) -> None:  # type: ignore[no-untyped-def]
    print(
        f"client_id={credential.client_id}\nclient_secret={credential.client_secret}\n"
        f"webhook_secret={credential.webhook_secret}"
    )


def cmd_integrator_create(args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.integrators import create_integrator
    from app.security.fields import KeyRing

    async def work(session):  # type: ignore[no-untyped-def]
        credential = await create_integrator(
            session,
            name=args.name,
            scopes=args.scope,
            now=_now(),
            keyring=KeyRing(settings.effective_encryption_keys),
            data_scope=args.data_scope or "none",
            unit_code=args.unit,
            allowed_network=args.allowed_network,
        )
        _integrator_audit(session, "integrator.create", credential.client_id)
        return credential

    try:
        credential = asyncio.run(in_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    _print_credential(credential)
    return 0


def cmd_integrator_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.integrators import rotate_integrator
    from app.security.fields import KeyRing

    keyring = KeyRing(settings.effective_encryption_keys)

    async def work(session):  # type: ignore[no-untyped-def]
        credential = await rotate_integrator(
            session, client_id=args.client_id, keyring=keyring, now=_now()
        )
        _integrator_audit(session, "integrator.rotate", args.client_id)
        return credential

    try:
        credential = asyncio.run(in_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    _print_credential(credential)
    return 0


def cmd_integrator_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.integrators import revoke_integrator

    async def work(session):  # type: ignore[no-untyped-def]
        await revoke_integrator(session, client_id=args.client_id, now=_now())
        _integrator_audit(session, "integrator.revoke", args.client_id)

    try:
        asyncio.run(in_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(f"revoked {args.client_id}")
    return 0


def cmd_integrator_list(_args: argparse.Namespace, settings: Settings) -> int:
    from app.identity.integrators import list_integrators

    items, _ = asyncio.run(
        in_session(settings, lambda s: list_integrators(s, limit=1000, cursor=None))
    )
    print_rows(
        (
            f"{item.client_id}\t{'revoked' if item.revoked_at else 'active'}\t{item.data_scope}\t"
            f"{item.unit_code or '-'}\t{' '.join(item.scopes)}\t{item.name}"
            for item in items
        ),
        empty="none",
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the sealed trail is intact and reaches every checkpoint, 1 when a row was
    changed, inserted, deleted or back-dated, or batches are gone from its end."""
    from datetime import timedelta

    from app.security.audit_anchor import read_checkpoints
    from app.security.audit_chain import audit_keys, verify

    keys = audit_keys(settings)
    paths = [Path(p) for p in args.checkpoints] or [settings.audit_checkpoint_path]
    checkpoints, warnings = read_checkpoints(paths)
    tolerance = timedelta(seconds=settings.security.audit_late_tolerance_s)
    verdict = asyncio.run(
        in_session(
            settings,
            lambda s: verify(s, keys=keys, checkpoints=checkpoints, tolerance=tolerance),
        )
    )
    verdict.warnings[:0] = warnings
    print(json.dumps(verdict.as_dict(), indent=2))
    return 0 if verdict.intact else 1


def cmd_audit_seal(_args: argparse.Namespace, settings: Settings) -> int:
    """Seal what is pending now (the service's sealer does this every few seconds)."""
    from datetime import timedelta

    from app.security.audit_anchor import append_checkpoint
    from app.security.audit_chain import audit_keys, seal_pending

    keys = audit_keys(settings)
    tolerance = timedelta(seconds=settings.security.audit_late_tolerance_s)
    total = 0
    while head := asyncio.run(
        in_session(settings, lambda s: seal_pending(s, keys=keys, now=_now(), tolerance=tolerance))
    ):
        append_checkpoint(settings.audit_checkpoint_path, head)
        total += head.rows
    print(f"sealed={total}")
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    """After restoring a backup: an audited "restored from backup taken at T" checkpoint."""
    from app.security.audit_chain import write_restore_checkpoint

    try:
        taken = datetime.fromisoformat(args.restored_from)
    except ValueError:
        print(
            "error: --restored-from: an ISO 8601 time, e.g. 2026-12-07T03:00:00Z", file=sys.stderr
        )
        return 2
    if taken.tzinfo is None:
        print("error: --restored-from: give the time zone (Z or +07:00)", file=sys.stderr)
        return 2
    checkpoint = asyncio.run(
        in_session(
            settings,
            lambda s: write_restore_checkpoint(
                s, settings=settings, backup_taken_at=taken, now=_now()
            ),
        )
    )
    print(checkpoint.to_json())
    return 0


def cmd_keys_rotate(_args: argparse.Namespace, settings: Settings) -> int:
    """Re-encrypt every personal field with the ring's first key; exit 1 if any is left on
    another key (a process still running with the old ring)."""
    from app.security.fields import KeyRing
    from app.security.rotation import rotate_keys

    keyring = KeyRing(settings.effective_encryption_keys)

    async def work() -> dict[str, dict[str, int]]:
        engine = create_engine(settings, pool_size=1)
        try:
            return await rotate_keys(create_sessionmaker(engine), keyring)
        finally:
            await engine.dispose()

    report = asyncio.run(work())
    print(json.dumps({"primary_key": keyring.primary_kid, "columns": report}, indent=2))
    return 0 if all(c["on_other_keys"] == 0 for c in report.values()) else 1


def cmd_keys_pins(_args: argparse.Namespace, settings: Settings) -> int:
    """How many PIN hashes use each pepper; exit 1 if a pepper they use is not in the ring."""
    from app.security.hashing import PepperRing
    from app.security.pin_peppers import missing_from, pepper_census

    ring = PepperRing(settings.effective_pin_peppers)

    async def work() -> dict[str, int]:
        engine = create_engine(settings, pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                return await pepper_census(session, ring)
        finally:
            await engine.dispose()

    census = asyncio.run(work())
    missing = missing_from(ring, census)
    print(json.dumps({"primary_pepper": ring.primary, "hashes": census, "missing": missing}))
    return 1 if missing else 0


def cmd_secrets(_args: argparse.Namespace, _settings: Settings | None) -> int:
    print(f"SIGAP_SECURITY__SECRET_KEY={secrets.token_urlsafe(48)}")
    print(f"SIGAP_SECURITY__ENCRYPTION_KEYS={new_key_spec('k1')}")
    print(f"SIGAP_SECURITY__PIN_PEPPERS={new_key_spec('p1')}")
    print(f"SIGAP_SECURITY__AUDIT_KEYS={new_key_spec('a1')}")
    print(f"SIGAP_OPS__METRICS_TOKEN={secrets.token_urlsafe(32)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigap", description="Sigap operator commands")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, load reference data if missing, and serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--role",
        choices=("all", "intake", "worker"),
        default=os.environ.get("SIGAP_ROLE", "all"),
        help="all: everything (default); intake: HTTP and websockets, no background work "
        "loop; worker: the background loops, serving only /healthz, /readyz, /metrics "
        "(PostgreSQL only)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="the reverse proxies' addresses or networks, comma-separated, trusted for "
        "X-Forwarded-For (rate limits use the client address); default: uvicorn's "
        "FORWARDED_ALLOW_IPS, else loopback only. '*' is refused in production",
    )
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)

    ref = sub.add_parser("reference", help="reference data").add_subparsers(
        dest="action", required=True
    )
    load = ref.add_parser("load", help="load or refresh every region bundle")
    load.add_argument(
        "--replace-units",
        action="store_true",
        help="overwrite units already in the database with the bundle's",
    )
    load.add_argument("--region-dir", action="append", default=[], help="an extra region bundle")
    load.set_defaults(func=cmd_reference_load)

    units = sub.add_parser("units", help="responding units").add_subparsers(
        dest="action", required=True
    )
    imp = units.add_parser("import", help="upsert units from a JSON file (the units.json format)")
    imp.add_argument("file")
    imp.add_argument("--region", required=True)
    imp.set_defaults(func=cmd_units_import)
    from app.cli_rosters import add_parsers

    add_parsers(sub, units)

    from app.cli_users import add_parsers as add_user_parsers

    add_user_parsers(sub)

    integ = sub.add_parser("integrator", help="integrator clients").add_subparsers(
        dest="action", required=True
    )
    icreate = integ.add_parser("create", help="create a client; prints its secret once")
    icreate.add_argument("name")
    icreate.add_argument("--scope", action="append", required=True)
    icreate.add_argument("--data-scope", choices=("none", "transit", "police", "112"))
    icreate.add_argument("--unit", help="a transit client's operator: transjakarta, mrt, lrt")
    icreate.add_argument("--allowed-network", help="private CIDR for a police/112 intranet")
    icreate.set_defaults(func=cmd_integrator_create)
    irotate = integ.add_parser("rotate", help="new secrets (printed once); old ones refused")
    irotate.add_argument("client_id")
    irotate.set_defaults(func=cmd_integrator_rotate)
    irevoke = integ.add_parser("revoke", help="refuse the client's secret and tokens for good")
    irevoke.add_argument("client_id")
    irevoke.set_defaults(func=cmd_integrator_revoke)
    integ.add_parser("list", help="every client").set_defaults(func=cmd_integrator_list)

    audit = sub.add_parser("audit", help="the tamper-evident audit trail").add_subparsers(
        dest="action", required=True
    )
    verify = audit.add_parser(
        "verify",
        help="check the sealed chain and its checkpoints; report changed, inserted, deleted "
        "or back-dated rows and a cut tail",
    )
    verify.add_argument(
        "--checkpoints",
        action="append",
        default=[],
        metavar="FILE",
        help="checkpoint file(s) to check against (default: SIGAP_SECURITY__AUDIT_CHECKPOINT_FILE)",
    )
    verify.set_defaults(func=cmd_audit_verify)
    audit.add_parser("seal", help="seal pending rows now").set_defaults(func=cmd_audit_seal)
    from app.cli_audit import add_query_parser

    add_query_parser(audit)
    checkpoint = audit.add_parser(
        "checkpoint", help="after a restore: record that the trail now ends where the backup's did"
    )
    checkpoint.add_argument(
        "--restored-from", required=True, metavar="T", help="when the backup was taken (ISO 8601)"
    )
    checkpoint.set_defaults(func=cmd_audit_checkpoint)

    keys = sub.add_parser("keys", help="the encryption key ring").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser(
        "rotate", help="re-encrypt every personal field with the first key of the ring"
    ).set_defaults(func=cmd_keys_rotate)
    keys.add_parser(
        "pins", help="PIN hashes per pepper: an old pepper may leave the ring at 0"
    ).set_defaults(func=cmd_keys_pins)

    stream = sub.add_parser("stream", help="the event stream").add_subparsers(
        dest="action", required=True
    )
    stream.add_parser(
        "new-epoch", help="after restoring a SQLite file: make every client resync"
    ).set_defaults(func=cmd_stream_new_epoch)

    from app.cli_backup import add_parsers as add_backup_parsers

    add_backup_parsers(sub)

    sub.add_parser("secrets", help="print fresh secrets for .env").set_defaults(func=cmd_secrets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "secrets":
        return cmd_secrets(args, None)
    command: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        settings = Settings()
    except ValidationError as exc:  # refuse to start, naming each wrong setting
        print("error: invalid settings, refusing to start:", file=sys.stderr)
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            print(f"  {where}: {error['msg']}", file=sys.stderr)
        return 2
    return command(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
