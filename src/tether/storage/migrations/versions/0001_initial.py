"""Tenants, users, managed objects with their references, and external ids.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("roles", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255)),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "managed_objects",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("type", sa.String(255)),
        sa.Column("name", sa.Text),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.Column("attrs", Document, nullable=False),
    )
    op.create_index("ix_mo_tenant_type", "managed_objects", ["tenant_id", "type"])
    op.create_index("ix_mo_tenant_owner", "managed_objects", ["tenant_id", "owner"])
    op.create_table(
        "mo_references",
        sa.Column("parent_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("child_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ref_child", "mo_references", ["child_id", "kind"])
    op.create_table(
        "external_ids",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(1024), primary_key=True),
        sa.Column("mo_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_xid_mo", "external_ids", ["mo_id"])
