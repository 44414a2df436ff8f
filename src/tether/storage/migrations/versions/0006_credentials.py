"""API keys, MQTT (EMQX built-in database) users and authorization rules, trusted CA certificates.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Document = sa.JSON().with_variant(JSONB(), "postgresql")


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "api_keys",
        _tenant(),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("api_key", sa.String(64), nullable=False, unique=True),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expired_at", sa.BigInteger),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("enable", sa.Boolean, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
    )
    op.create_table(
        "mqtt_users",
        _tenant(),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("is_superuser", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "acl_rules",
        _tenant(),
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("who", sa.String(255), primary_key=True),
        sa.Column("rules", Document, nullable=False),
    )
    op.create_table(
        "trusted_certificates",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("cert_pem", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("auto_registration", sa.Boolean, nullable=False),
        sa.Column("subject", Document, nullable=False),
        sa.Column("issuer", Document, nullable=False),
        sa.Column("serial_number", sa.String(128), nullable=False),
        sa.Column("not_before", sa.BigInteger, nullable=False),
        sa.Column("not_after", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_trusted_cert_tenant", "trusted_certificates", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_trusted_cert_tenant", table_name="trusted_certificates")
    for table in ("trusted_certificates", "acl_rules", "mqtt_users", "api_keys"):
        op.drop_table(table)
