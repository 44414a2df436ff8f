"""Connection history (every MQTT connection of a tenant's client) and device presence (connection,
availability, the offline alarm's clock), kept across restarts.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _tenant(primary_key: bool) -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        sa.String(64),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "connection_history",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant(False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("username", sa.String(255)),
        sa.Column("device", sa.String(255)),
        sa.Column("mo_id", sa.BigInteger),
        sa.Column("ip_address", sa.String(64)),
        sa.Column("proto_ver", sa.Integer, nullable=False),
        sa.Column("clean_start", sa.Boolean, nullable=False),
        sa.Column("keepalive", sa.Integer, nullable=False),
        sa.Column("connected_at", sa.BigInteger, nullable=False),
        sa.Column("disconnected_at", sa.BigInteger),
        sa.Column("reason", sa.String(64)),
    )
    op.create_index(
        "ix_connection_history_client", "connection_history", ["tenant_id", "client_id", "connected_at"]
    )
    op.create_index(
        "ix_connection_history_device", "connection_history", ["tenant_id", "mo_id", "connected_at"]
    )
    op.create_index("ix_connection_history_ended", "connection_history", ["disconnected_at"])
    op.create_table(
        "device_presence",
        _tenant(True),
        sa.Column("mo_id", sa.BigInteger, primary_key=True),
        sa.Column("connected", sa.Boolean, nullable=False),
        sa.Column("last_message", sa.BigInteger),
        sa.Column("response_interval", sa.Integer),
        sa.Column("status", sa.String(16)),
        sa.Column("since", sa.BigInteger, nullable=False),
        sa.Column("disconnected_at", sa.BigInteger),
        sa.Column("offline_alarm", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("device_presence")
    op.drop_index("ix_connection_history_ended", "connection_history")
    op.drop_index("ix_connection_history_device", "connection_history")
    op.drop_index("ix_connection_history_client", "connection_history")
    op.drop_table("connection_history")
