"""outbox resume indexes: the replay window's start, retention, and a phone's own replay

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_outbox_event_created_at', 'outbox_event', ['created_at', 'seq'])
    op.create_index('ix_outbox_event_alert_seq', 'outbox_event', ['alert_id', 'seq'])


def downgrade() -> None:
    op.drop_index('ix_outbox_event_alert_seq', table_name='outbox_event')
    op.drop_index('ix_outbox_event_created_at', table_name='outbox_event')
