"""dispatch: routing decisions, legs, timers, rosters, notes, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 13:35:45.107177
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dispatch_task',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_dispatch_task_alert_id_alert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_task')),
    sa.UniqueConstraint('alert_id', 'kind', 'ref', name=op.f('uq_dispatch_task_alert_id_kind_ref'))
    )
    with op.batch_alter_table('dispatch_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_task_due_at'), ['due_at'], unique=False)

    op.create_table('routing_decision',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('policy', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_routing_decision_alert_id_alert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_decision')),
    sa.UniqueConstraint('alert_id', 'step', name=op.f('uq_routing_decision_alert_id_step'))
    )
    with op.batch_alter_table('routing_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_decision_alert_id'), ['alert_id'], unique=False)

    op.create_table('alert_note',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_alert_note_alert_id_alert')),
    sa.ForeignKeyConstraint(['author_id'], ['staff_user.id'], name=op.f('fk_alert_note_author_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_note'))
    )
    with op.batch_alter_table('alert_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_note_alert_id'), ['alert_id'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('decision_id', sa.Uuid(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Uuid(), nullable=False),
    sa.Column('unit_code', sa.String(length=40), nullable=False),
    sa.Column('leg_kind', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('preferred_sex', sa.String(length=8), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.Uuid(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['accepted_by'], ['staff_user.id'], name=op.f('fk_assignment_accepted_by_staff_user')),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_assignment_alert_id_alert')),
    sa.ForeignKeyConstraint(['decision_id'], ['routing_decision.id'], name=op.f('fk_assignment_decision_id_routing_decision')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_assignment_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('alert_id', 'step', 'unit_id', name=op.f('uq_assignment_alert_id_step_unit_id'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_assignment_unit_status', ['unit_id', 'status'], unique=False)
        batch_op.create_index('uq_assignment_one_ladder_claim', ['alert_id'], unique=True, postgresql_where=sa.text("status = 'accepted' AND leg_kind <> 'transit'"), sqlite_where=sa.text("status = 'accepted' AND leg_kind <> 'transit'"))

    op.create_table('notification',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=160), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=True),
    sa.Column('recipient_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_notification_alert_id_alert')),
    sa.ForeignKeyConstraint(['recipient_id'], ['staff_user.id'], name=op.f('fk_notification_recipient_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notification_dedupe_key'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_due_at'), ['due_at'], unique=False)

    op.create_table('shift',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('unit_id', sa.Uuid(), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['staff_user.id'], name=op.f('fk_shift_created_by_staff_user')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_shift_staff_id_staff_user')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_shift_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift'))
    )
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index('ix_shift_unit_window', ['unit_id', 'ends_at'], unique=False)

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_step', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('escalations', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('routed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('on_scene_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handed_over_to', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('transferred_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('disposition', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('disposition')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('transferred_at')
        batch_op.drop_column('handed_over_to')
        batch_op.drop_column('handed_over_at')
        batch_op.drop_column('on_scene_at')
        batch_op.drop_column('contacted_at')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('routed_at')
        batch_op.drop_column('escalations')
        batch_op.drop_column('dispatch_step')

    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.drop_index('ix_shift_unit_window')
        batch_op.drop_index(batch_op.f('ix_shift_staff_id'))

    op.drop_table('shift')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_due_at'))
        batch_op.drop_index(batch_op.f('ix_notification_created_at'))
        batch_op.drop_index(batch_op.f('ix_notification_alert_id'))

    op.drop_table('notification')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_assignment_one_ladder_claim', postgresql_where=sa.text("status = 'accepted' AND leg_kind <> 'transit'"), sqlite_where=sa.text("status = 'accepted' AND leg_kind <> 'transit'"))
        batch_op.drop_index('ix_assignment_unit_status')
        batch_op.drop_index(batch_op.f('ix_assignment_alert_id'))

    op.drop_table('assignment')
    with op.batch_alter_table('alert_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_note_alert_id'))

    op.drop_table('alert_note')
    with op.batch_alter_table('routing_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_decision_alert_id'))

    op.drop_table('routing_decision')
    with op.batch_alter_table('dispatch_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_task_due_at'))

    op.drop_table('dispatch_task')
