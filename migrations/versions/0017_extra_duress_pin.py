"""a second duress PIN slot: a PIN change made with the duress PIN sets duress PINs only

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing and takes the lock only for a moment.
    op.add_column('device', sa.Column('extra_duress_pin_hash', sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column('device', 'extra_duress_pin_hash')
