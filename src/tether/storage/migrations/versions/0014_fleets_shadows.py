"""EMQX Fleets shadow documents: one row per thing (a managed object; things, types and groups themselves are
managed objects with fragments and external ids, no table of their own).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fleets_shadows",
        sa.Column("mo_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("present", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("document", Document, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fleets_shadows")
