"""shift kind: at_post (offered while the console is open) or on_call (offered while rostered)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing shift keeps today's meaning (live presence), hence the server default.
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=8), nullable=False, server_default='at_post')
        )


def downgrade() -> None:
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.drop_column('kind')
