"""sign-in: a supervisor's one-time unlock codes (device cookies need no table)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_unlock',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_by', sa.Uuid(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['issued_by'], ['staff_user.id'], name=op.f('fk_sign_in_unlock_issued_by_staff_user')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_sign_in_unlock_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_unlock')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_sign_in_unlock_code_hash'))
    )
    with op.batch_alter_table('sign_in_unlock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_unlock_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_unlock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_unlock_user_id'))
    op.drop_table('sign_in_unlock')
