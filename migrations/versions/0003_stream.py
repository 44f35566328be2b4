"""stream: outbox positions (seq), the stream epoch and head, live console presence

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:54:08.865164
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stream_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.String(length=40), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stream_state'))
    )
    # The epoch is new with every database: a restore into a fresh database tells clients to
    # resync instead of trusting sequence numbers that no longer mean the same events.
    op.bulk_insert(
        sa.table(
            'stream_state',
            sa.column('id', sa.Integer()),
            sa.column('epoch', sa.String()),
            sa.column('last_seq', sa.BigInteger()),
            sa.column('updated_at', sa.DateTime(timezone=True)),
        ),
        [{'id': 1, 'epoch': uuid.uuid4().hex, 'last_seq': 0, 'updated_at': datetime.now(UTC)}],
    )
    op.create_table('staff_presence',
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_staff_presence_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_staff_presence'))
    )
    with op.batch_alter_table('staff_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_presence_last_seen_at'), ['last_seen_at'], unique=False)

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_outbox_event_unsequenced', ['id'], unique=False, postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_event_seq'), ['seq'])



def downgrade() -> None:
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_outbox_event_seq'), type_='unique')
        batch_op.drop_index('ix_outbox_event_unsequenced', postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))
        batch_op.drop_column('seq')

    with op.batch_alter_table('staff_presence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_presence_last_seen_at'))

    op.drop_table('staff_presence')
    op.drop_table('stream_state')
