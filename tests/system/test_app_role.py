"""The app's PostgreSQL role (docs/deploy.md, "The app's database role"), in a private cluster:
migrations run as the owner through ``SIGAP_DB__MIGRATION_URL``; the app, as its own role, takes
presses, adds audit rows and seals them, and can neither change nor delete an audit row or a seal.
Roles are created only in the private cluster (tests/pgcluster.py), never on the shared server.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit import record
from app.cli import prepare
from app.main import build_context, create_app, start
from app.migrate import upgrade
from app.security.audit_chain import seal_audit
from tests.conftest import make_settings
from tests.helpers import press, press_body, register
from tests.pgcluster import PgCluster

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def documented_grants() -> str:
    """The SQL block of docs/deploy.md, as an operator copies it."""
    found = re.search(r"-- sigap app role\n(.*?)-- end sigap app role", DEPLOY.read_text(), re.S)
    assert found, "docs/deploy.md lost its app role block"
    return found.group(1)


def _url(cluster: PgCluster, role: str, database: str) -> str:
    return f"postgresql+asyncpg://{role}@127.0.0.1:{cluster.port}/{database}"


async def _as(cluster: PgCluster, role: str, database: str) -> asyncpg.Connection:
    return await asyncpg.connect(f"postgresql://{role}@127.0.0.1:{cluster.port}/{database}")


async def test_the_app_role_adds_and_seals_audit_rows_but_never_changes_or_deletes_them(
    private_cluster: PgCluster, tmp_path: Path
) -> None:
    cluster = private_cluster
    admin = await asyncpg.connect(cluster.admin_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute("CREATE ROLE sigap_owner LOGIN")
        await admin.execute("CREATE ROLE sigap_app LOGIN")
        await admin.execute("CREATE DATABASE sigap OWNER sigap_owner")
    finally:
        await admin.close()
    settings = make_settings(
        _url(cluster, "sigap_app", "sigap"),
        db={"migration_url": _url(cluster, "sigap_owner", "sigap"), "pool_size": 2},
        security={"audit_checkpoint_file": str(tmp_path / "audit.jsonl")},
    )

    # Without the owner's URL the app's role cannot migrate: it has no DDL at all.
    alone = settings.model_copy(
        update={"db": settings.db.model_copy(update={"migration_url": None})}
    )
    with pytest.raises(DBAPIError, match="permission denied"):
        await prepare(alone)

    await upgrade(settings)  # `sigap migrate`: as the owner
    owner = await _as(cluster, "sigap_owner", "sigap")
    try:
        owners = await owner.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        )
        assert [r["tableowner"] for r in owners] == ["sigap_owner"]
        await owner.execute(documented_grants())
    finally:
        await owner.close()
    await prepare(settings)  # `sigap serve`: migrations as the owner, reference data as the app

    context = build_context(settings)
    try:
        await start(context)
        app = create_app(context=context, run_loops=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://sigap.test") as http:
            _, credential = await register(http)
            answer = await press(http, credential, press_body(context))
            assert answer.status_code == 201, answer.text
        async with context.sessions() as session:
            record(
                session,
                principal=None,
                action="alert.read",
                object_type="alert",
                object_id=uuid.uuid4(),
                at=context.clock.now(),
            )
            await session.commit()
        await seal_audit(context)  # sealing is the one update the app may make
        async with context.sessions() as session:
            assert (
                await session.scalar(
                    text("SELECT count(*) FROM audit_entry WHERE seal_batch IS NULL")
                )
                == 0
            )
            assert await session.scalar(text("SELECT count(*) FROM audit_seal")) == 1
        for statement in (
            "UPDATE audit_entry SET actor_id = 'someone'",
            "UPDATE audit_entry SET at = at - interval '1 day'",
            "DELETE FROM audit_entry",
            "TRUNCATE audit_entry",
            "UPDATE audit_seal SET head = repeat('0', 64)",
            "DELETE FROM audit_seal",
            "TRUNCATE audit_seal",
            "UPDATE alembic_version SET version_num = '0001'",
            "CREATE TABLE intruder (id int)",
        ):
            async with context.sessions() as session:
                with pytest.raises(DBAPIError, match="permission denied"):
                    await session.execute(text(statement))
        async with context.sessions() as session:
            assert (await session.scalar(text("SELECT count(*) FROM audit_entry"))) >= 1
    finally:
        await context.engine.dispose()
