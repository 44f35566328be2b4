"""open hand-offs: a partial index on the transfer time of open transferred alerts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_HANDOFF = 'transferred_at IS NOT NULL AND resolved_at IS NULL AND cancelled_at IS NULL'


def upgrade() -> None:
    # The hand-off check looks at every open transferred alert, however old (no look-back
    # window): only those are in the index, so it stays small as the alert table grows.
    op.create_index(
        'ix_alert_handoff_open',
        'alert',
        ['transferred_at'],
        unique=False,
        postgresql_where=sa.text(OPEN_HANDOFF),
        sqlite_where=sa.text(OPEN_HANDOFF),
    )


def downgrade() -> None:
    op.drop_index('ix_alert_handoff_open', table_name='alert')
