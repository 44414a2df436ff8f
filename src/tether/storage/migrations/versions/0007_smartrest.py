"""SmartREST 2.0 template collections (s/ut/<X-ID>): one per tenant and X-ID.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "smartrest_templates",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("xid", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("templates", Document, nullable=False),
        sa.UniqueConstraint("tenant_id", "xid", name="ux_smartrest_templates_xid"),
    )


def downgrade() -> None:
    op.drop_table("smartrest_templates")
