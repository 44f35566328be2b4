"""one phone cannot flood the service: reopened alerts, flood flags, unvetted devices

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Registration past the per-network limit is never refused: the device is marked unvetted
    # and its on-call notifications draw on a small lane of their own.
    op.add_column(
        'device',
        sa.Column('unvetted', sa.Boolean(), nullable=False, server_default=sa.text('false')),
    )
    op.add_column('device', sa.Column('flooded_at', sa.DateTime(timezone=True), nullable=True))
    # A press that joins the device's latest alert reopens it: the count and the re-press
    # time (what the phone's view and events start from), and when the alert was set aside
    # for staff as a suspected flood instead of being offered again.
    op.add_column(
        'alert',
        sa.Column('reopen_count', sa.Integer(), nullable=False, server_default=sa.text('0')),
    )
    op.add_column('alert', sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        'alert', sa.Column('flood_suspected_at', sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column('alert', 'flood_suspected_at')
    op.drop_column('alert', 'reopened_at')
    op.drop_column('alert', 'reopen_count')
    op.drop_column('device', 'flooded_at')
    op.drop_column('device', 'unvetted')
