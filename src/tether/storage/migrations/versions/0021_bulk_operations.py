"""Bulk operations: `bulk_operations` (the group or failed parent, prototype, ramp, status and the run's
progress: its resolved targets, how many have their operation, when the next is due) and an index of the
operations by bulk operation (progress counts).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "bulk_operations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("group_id", sa.BigInteger),
        sa.Column("failed_parent_id", sa.BigInteger),
        sa.Column("start_date", sa.BigInteger, nullable=False),
        sa.Column("creation_ramp", sa.Float, nullable=False),
        sa.Column("prototype", Document, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("targets", Document, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("next_at", sa.BigInteger, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,  # ids are never reused (migration 0008)
    )
    op.create_index("ix_bulk_due", "bulk_operations", ["status", "next_at"])
    op.create_index("ix_bulk_tenant", "bulk_operations", ["tenant_id", "id"])
    op.create_index("ix_op_bulk", "operations", ["tenant_id", "bulk_operation_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_op_bulk", "operations")
    op.drop_table("bulk_operations")
