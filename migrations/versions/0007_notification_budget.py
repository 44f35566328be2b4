"""notification budget: claim leases, digests, and per-day budgets counted in the region's zone

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('digest_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_notification_recipient_id_sent_at', ['recipient_id', 'sent_at'], unique=False)
        batch_op.create_index('ix_notification_status_due_at', ['status', 'due_at'], unique=False)

    op.create_table('notification_budget',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('pool', sa.String(length=16), nullable=False),
    sa.Column('spent', sa.Integer(), nullable=False),
    sa.Column('capped_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('day', 'pool', name=op.f('pk_notification_budget'))
    )


def downgrade() -> None:
    op.drop_table('notification_budget')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_status_due_at')
        batch_op.drop_index('ix_notification_recipient_id_sent_at')
        batch_op.drop_column('digest_id')
        batch_op.drop_column('claimed_until')
