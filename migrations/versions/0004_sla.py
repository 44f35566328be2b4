"""sla: clocks, cases with legal milestones, the monitor's dirty flag on alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:19:25.075957
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sla_clock',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('clock', sa.String(length=32), nullable=False),
    sa.Column('target_key', sa.String(length=48), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warn_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breach_cause', sa.String(length=32), nullable=True),
    sa.Column('excluded', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_sla_clock_alert_id_alert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clock')),
    sa.UniqueConstraint('alert_id', 'clock', name=op.f('uq_sla_clock_alert_id_clock'))
    )
    with op.batch_alter_table('sla_clock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_clock_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_sla_clock_due', ['next_at'], unique=False, postgresql_where=sa.text("status IN ('running', 'warning')"), sqlite_where=sa.text("status IN ('running', 'warning')"))

    op.create_table('case_file',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.Uuid(), nullable=False),
    sa.Column('violence_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('victim_age_group', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('milestones', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_case_file_alert_id_alert')),
    sa.ForeignKeyConstraint(['opened_by'], ['staff_user.id'], name=op.f('fk_case_file_opened_by_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_file')),
    sa.UniqueConstraint('alert_id', name=op.f('uq_case_file_alert_id'))
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_dirty', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.create_index('ix_alert_sla_dirty', ['id'], unique=False, postgresql_where=sa.text('sla_dirty'), sqlite_where=sa.text('sla_dirty'))



def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_sla_dirty', postgresql_where=sa.text('sla_dirty'), sqlite_where=sa.text('sla_dirty'))
        batch_op.drop_column('sla_dirty')

    op.drop_table('case_file')
    with op.batch_alter_table('sla_clock', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_clock_due', postgresql_where=sa.text("status IN ('running', 'warning')"), sqlite_where=sa.text("status IN ('running', 'warning')"))
        batch_op.drop_index(batch_op.f('ix_sla_clock_alert_id'))

    op.drop_table('sla_clock')
