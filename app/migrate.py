"""Applying migrations: under a PostgreSQL advisory lock, so several hosts starting at once wait
for one another instead of racing on the same DDL. With ``SIGAP_DB__MIGRATION_URL`` set they run
as that (owner) role, and the app's own role needs no DDL (docs/deploy.md, "The app's database
role")."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.config import Settings, normalise_database_url
from app.db import create_engine

MIGRATION_LOCK_KEY = 0x5167_6170  # "Sigap": one advisory lock id for schema changes
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migration_settings(settings: Settings) -> Settings:
    """The settings migrations connect with: the owner's URL when one is set."""
    url = settings.db.migration_url
    if not url:
        return settings
    return settings.model_copy(update={"database_url": normalise_database_url(url)})


async def upgrade(settings: Settings, revision: str = "head") -> None:
    engine = create_engine(migration_settings(settings), pool_size=1)
    try:
        async with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                await connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.commit()
            try:
                await connection.run_sync(_upgrade, revision)
                await connection.commit()
            finally:
                if postgres:
                    # A failed migration leaves the transaction aborted: roll it back first, or
                    # the unlock fails too and hides why the migration failed.
                    await connection.rollback()
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                    await connection.commit()
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
