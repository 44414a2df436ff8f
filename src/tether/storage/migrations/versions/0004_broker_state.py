"""MQTT broker state: persistent sessions, their subscriptions and deliveries, retained messages.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mqtt_sessions",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("expiry_interval", sa.BigInteger, nullable=False),
        sa.Column("disconnected_at", sa.Double, nullable=False),
        sa.Column("awaiting_rel", Document, nullable=False),
        sa.Column("will_topic", sa.Text),
        sa.Column("will_payload", sa.LargeBinary),
        sa.Column("will_qos", sa.SmallInteger),
        sa.Column("will_retain", sa.Boolean),
        sa.Column("will_properties", sa.LargeBinary),
        sa.Column("will_expires_at", sa.Double),
        sa.Column("will_at", sa.Double),
    )
    op.create_table(
        "mqtt_subscriptions",
        sa.Column(
            "client_id",
            sa.Text,
            sa.ForeignKey("mqtt_sessions.client_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("topic_filter", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("qos", sa.SmallInteger, nullable=False),
        sa.Column("no_local", sa.Boolean, nullable=False),
        sa.Column("retain_as_published", sa.Boolean, nullable=False),
        sa.Column("retain_handling", sa.SmallInteger, nullable=False),
        sa.Column("identifier", sa.Integer),
    )
    op.create_table(
        "mqtt_deliveries",
        sa.Column(
            "client_id",
            sa.Text,
            sa.ForeignKey("mqtt_sessions.client_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("qos", sa.SmallInteger, nullable=False),
        sa.Column("retain", sa.Boolean, nullable=False),
        sa.Column("subscription_ids", Document, nullable=False),
        sa.Column("packet_id", sa.Integer, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("message_qos", sa.SmallInteger, nullable=False),
        sa.Column("message_retain", sa.Boolean, nullable=False),
        sa.Column("properties", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.Double),
    )
    op.create_table(
        "mqtt_retained",
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("qos", sa.SmallInteger, nullable=False),
        sa.Column("retain", sa.Boolean, nullable=False),
        sa.Column("properties", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.Double),
    )


def downgrade() -> None:
    for table in ("mqtt_deliveries", "mqtt_subscriptions", "mqtt_sessions", "mqtt_retained"):
        op.drop_table(table)
