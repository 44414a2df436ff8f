"""Tenant administration: a tenant's status (ACTIVE, SUSPENDED; DELETED keeps the id from being issued
again) and Cumulocity's tenant fields; tenant options (`credentials.` values encrypted); audit records.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="ACTIVE"))
        batch.add_column(sa.Column("company", sa.String(256)))
        batch.add_column(sa.Column("contact_name", sa.String(256)))
        batch.add_column(sa.Column("contact_phone", sa.String(64)))
        batch.add_column(sa.Column("admin_name", sa.String(255)))
        batch.add_column(sa.Column("admin_email", sa.String(255)))
        batch.add_column(sa.Column("parent", sa.String(64)))
    op.create_table(
        "tenant_options",
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("category", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("encrypted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "audit_records",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("activity", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("username", sa.String(255)),
        sa.Column("application", sa.String(255)),
        sa.Column("source", sa.String(255)),
        sa.Column("changes", _Document),
        sa.Column("fragments", _Document, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_tenant_time", "audit_records", ["tenant_id", "time"])
    op.create_index("ix_audit_tenant_type", "audit_records", ["tenant_id", "type", "time"])


def downgrade() -> None:
    op.drop_index("ix_audit_tenant_type", "audit_records")
    op.drop_index("ix_audit_tenant_time", "audit_records")
    op.drop_table("audit_records")
    op.drop_table("tenant_options")
    with op.batch_alter_table("tenants") as batch:
        for column in ("parent", "admin_email", "admin_name", "contact_phone", "contact_name", "company"):
            batch.drop_column(column)
        batch.drop_column("status")
