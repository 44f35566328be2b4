"""sign_in_throttle: per-account and per-account-and-network back-off of password sign-ins

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_throttle',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('network', sa.String(length=64), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_sign_in_throttle_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttle'))
    )
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_throttle_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_throttle_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_throttle_user_id'))
        batch_op.drop_index(batch_op.f('ix_sign_in_throttle_updated_at'))

    op.drop_table('sign_in_throttle')
