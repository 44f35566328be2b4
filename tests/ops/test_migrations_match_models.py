"""The schema the migrations build is the one the models describe: a column, type, index or
constraint added to one and not the other (which the other tests, running on the migrated
database, would mostly not notice) fails here on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.context import AppContext
from app.models.base import Base


async def test_the_migrated_schema_matches_the_models(context: AppContext) -> None:
    def differences(connection: Any) -> list[Any]:
        migration = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": False}
        )
        return list(compare_metadata(migration, Base.metadata))

    async with context.engine.connect() as connection:
        diffs = await connection.run_sync(differences)
    assert diffs == []
