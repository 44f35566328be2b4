"""restricted records and break-glass grants

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 14:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: every existing alert stays unrestricted, and adding the columns
    # rewrites nothing on PostgreSQL.
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restricted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('restriction_reason', sa.String(length=24), nullable=True))

    op.create_table('break_glass_grant',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('reason_enc', sa.LargeBinary(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_break_glass_grant_alert_id_alert')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_break_glass_grant_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_break_glass_grant'))
    )
    with op.batch_alter_table('break_glass_grant', schema=None) as batch_op:
        batch_op.create_index('ix_break_glass_grant_alert_staff', ['alert_id', 'staff_id', 'expires_at'], unique=False)
        batch_op.create_index('ix_break_glass_grant_granted_at', ['granted_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('break_glass_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_break_glass_grant_granted_at')
        batch_op.drop_index('ix_break_glass_grant_alert_staff')
    op.drop_table('break_glass_grant')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('restriction_reason')
        batch_op.drop_column('restricted_at')
