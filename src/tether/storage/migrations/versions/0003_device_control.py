"""Operations (routed to agents) and new-device requests of the bootstrap flow.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", Id),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("bulk_operation_id", sa.BigInteger),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.Column("fragments", Document, nullable=False),
    )
    op.create_index("ix_op_agent_status", "operations", ["tenant_id", "agent_id", "status", "id"])
    op.create_index("ix_op_device_status", "operations", ["tenant_id", "device_id", "status", "id"])
    op.create_table(
        "new_device_requests",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
    )
