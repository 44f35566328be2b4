"""attention items: what on an alert needs a supervisor, open until dealt with; the inbox

Every notification is also in its recipient's inbox in the console: ``read_at`` and an index
on (recipient, created_at).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = 'cleared_at IS NULL'


def upgrade() -> None:
    op.create_table('attention_item',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_by', sa.Uuid(), nullable=True),
    sa.Column('clear_reason', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_attention_item_alert_id_alert')),
    sa.ForeignKeyConstraint(['cleared_by'], ['staff_user.id'], name=op.f('fk_attention_item_cleared_by_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attention_item')),
    sa.UniqueConstraint('alert_id', 'kind', 'key', name=op.f('uq_attention_item_alert_id_kind_key')),
    )
    with op.batch_alter_table('attention_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attention_item_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(
            'ix_attention_item_open',
            ['raised_at'],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )


    with op.batch_alter_table('notification', schema=None) as batch_op:
        # Nullable, no default: nothing is rewritten; every earlier message reads as unread.
        batch_op.add_column(sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            'ix_notification_recipient_id_created_at', ['recipient_id', 'created_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_recipient_id_created_at')
        batch_op.drop_column('read_at')
    with op.batch_alter_table('attention_item', schema=None) as batch_op:
        batch_op.drop_index('ix_attention_item_open')
        batch_op.drop_index(batch_op.f('ix_attention_item_alert_id'))
    op.drop_table('attention_item')
