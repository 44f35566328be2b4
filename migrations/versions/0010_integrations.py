"""integrations: webhooks, partner status, channel alerts, integrator data scope

Revision ID: 0010
Revises: 0007 (the lead re-chains at merge)
Create Date: 2026-12-01 19:42:30.230771
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_webhook_cursor'))
    )
    op.create_table('inbound_receipt',
    sa.Column('integrator_id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.String(length=120), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integrator_id'], ['integrator_client.id'], name=op.f('fk_inbound_receipt_integrator_id_integrator_client')),
    sa.PrimaryKeyConstraint('integrator_id', 'message_id', name=op.f('pk_inbound_receipt'))
    )
    with op.batch_alter_table('inbound_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_receipt_received_at'), ['received_at'], unique=False)

    op.create_table('webhook_endpoint',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('integrator_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('event_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secrets_enc', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['integrator_id'], ['integrator_client.id'], name=op.f('fk_webhook_endpoint_integrator_id_integrator_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoint'))
    )
    with op.batch_alter_table('webhook_endpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoint_integrator_id'), ['integrator_id'], unique=False)

    op.create_table('channel_alert',
    sa.Column('integrator_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_channel_alert_alert_id_alert')),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_channel_alert_device_id_device')),
    sa.ForeignKeyConstraint(['integrator_id'], ['integrator_client.id'], name=op.f('fk_channel_alert_integrator_id_integrator_client')),
    sa.PrimaryKeyConstraint('integrator_id', 'reference', name=op.f('pk_channel_alert'))
    )
    with op.batch_alter_table('channel_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_alert_alert_id'), ['alert_id'], unique=False)

    op.create_table('partner_status',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('alert_id', sa.Uuid(), nullable=False),
    sa.Column('integrator_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('disposition', sa.String(length=40), nullable=True),
    sa.Column('external_ref', sa.String(length=120), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_partner_status_alert_id_alert')),
    sa.ForeignKeyConstraint(['integrator_id'], ['integrator_client.id'], name=op.f('fk_partner_status_integrator_id_integrator_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_status'))
    )
    with op.batch_alter_table('partner_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_status_alert_id'), ['alert_id'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], name=op.f('fk_webhook_delivery_endpoint_id_webhook_endpoint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('endpoint_id', 'event_seq', name=op.f('uq_webhook_delivery_endpoint_id_event_seq'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index('ix_webhook_delivery_status_due_at', ['status', 'due_at'], unique=False)

    with op.batch_alter_table('integrator_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_scope", sa.String(length=16), nullable=False, server_default="none"))
        batch_op.add_column(sa.Column('unit_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('secret_rotated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inbound_secret_enc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('allowed_network', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('integrator_client', schema=None) as batch_op:
        batch_op.drop_column('allowed_network')
        batch_op.drop_column('inbound_secret_enc')
        batch_op.drop_column('secret_rotated_at')
        batch_op.drop_column('unit_code')
        batch_op.drop_column('data_scope')

    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_status_due_at')
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_endpoint_id'))

    op.drop_table('webhook_delivery')
    with op.batch_alter_table('partner_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_status_alert_id'))

    op.drop_table('partner_status')
    with op.batch_alter_table('channel_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_alert_alert_id'))

    op.drop_table('channel_alert')
    with op.batch_alter_table('webhook_endpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoint_integrator_id'))

    op.drop_table('webhook_endpoint')
    with op.batch_alter_table('inbound_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_receipt_received_at'))

    op.drop_table('inbound_receipt')
    op.drop_table('webhook_cursor')
