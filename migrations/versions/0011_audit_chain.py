"""audit chain (rows sealed in batches by a background sealer) and alert retention (legal hold)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 20:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('seal_batch', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
        )
        batch_op.add_column(sa.Column('chain', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entry_seal_batch'), ['seal_batch'], unique=False)

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('legal_hold', sa.Boolean(), server_default=sa.text('false'), nullable=False)
        )
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('audit_seal',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('head', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_seal'))
    )


def downgrade() -> None:
    op.drop_table('audit_seal')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
        batch_op.drop_column('legal_hold')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_seal_batch'))
        batch_op.drop_column('chain')
        batch_op.drop_column('seal_batch')
