"""Connectors and sink actions of the rule engine (EMQX 5 /api/v5/connectors and /api/v5/actions): per
tenant, keyed by (type, name), the configuration / parameters as JSON.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("type", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
    ]


def _common() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("enable", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table("rule_connectors", *_key(), sa.Column("config", sa.Text, nullable=False), *_common())
    op.create_table(
        "rule_actions",
        *_key(),
        sa.Column("connector", sa.String(255), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("resource_opts", sa.Text, nullable=False),
        *_common(),
    )


def downgrade() -> None:
    op.drop_table("rule_actions")
    op.drop_table("rule_connectors")
