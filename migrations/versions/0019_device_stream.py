"""device stream: a phone's own event numbering (outbox_event.device_id/device_seq) and head

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule at the time of this migration (app/realtime/scopes.py): the events a phone is shown,
# up to the first one that ended its alert for it. Later events are numbered by the relay.
_SHOWN = ("'alert.received', 'assignment.accepted', 'alert.on_scene', 'alert.resolved', "
          "'alert.cancelled', 'alert.duress_signalled'")
_CLOSING = "'alert.cancelled', 'alert.duress_signalled', 'alert.resolved'"


def upgrade() -> None:
    op.create_table('device_stream',
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_device_stream_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', name=op.f('pk_device_stream'))
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('device_seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_outbox_event_device_seq', ['device_id', 'device_seq'], unique=True)
    # Number what phones were already shown, in stream order. A phone resuming with a cursor
    # from the old (deployment-wide) numbering is past its own head: it is told to resync once.
    op.execute(
        f"""
        WITH closing AS (
            SELECT alert_id, min(seq) AS closed FROM outbox_event
            WHERE event_type IN ({_CLOSING}) AND seq IS NOT NULL GROUP BY alert_id
        ),
        shown AS (
            SELECT o.id AS id, a.device_id AS device_id,
                   row_number() OVER (PARTITION BY a.device_id ORDER BY o.seq) AS n
            FROM outbox_event o
            JOIN alert a ON a.id = o.alert_id
            LEFT JOIN closing c ON c.alert_id = o.alert_id
            WHERE o.seq IS NOT NULL AND o.event_type IN ({_SHOWN})
              AND (c.closed IS NULL OR o.seq <= c.closed)
        )
        UPDATE outbox_event
        SET device_id = (SELECT s.device_id FROM shown s WHERE s.id = outbox_event.id),
            device_seq = (SELECT s.n FROM shown s WHERE s.id = outbox_event.id)
        WHERE id IN (SELECT id FROM shown)
        """
    )
    op.execute(
        """
        INSERT INTO device_stream (device_id, last_seq)
        SELECT device_id, max(device_seq) FROM outbox_event
        WHERE device_id IS NOT NULL GROUP BY device_id
        """
    )


def downgrade() -> None:
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_event_device_seq')
        batch_op.drop_column('device_seq')
        batch_op.drop_column('device_id')
    op.drop_table('device_stream')
