"""Xyte-style device models (hardware keys) and registered devices (access-key hashes).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "xyte_models",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("communication_protocol", sa.String(16), nullable=False),
        sa.Column("hardware_key", sa.String(64), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("hardware_key", name="ux_xyte_model_key"),
        sa.UniqueConstraint("tenant_id", "name", name="ux_xyte_model_name"),
    )
    op.create_table(
        "xyte_devices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(36), sa.ForeignKey("xyte_models.id"), nullable=False),
        sa.Column("mo_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sn", sa.String(255), nullable=False),
        sa.Column("mac", sa.String(17)),
        sa.Column("cloud_id", sa.String(255)),
        sa.Column("access_key_hash", sa.Text, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("model_id", "sn", name="ux_xyte_device_sn"),
        sa.UniqueConstraint("tenant_id", "mac", name="ux_xyte_device_mac"),
        sa.UniqueConstraint("tenant_id", "cloud_id", name="ux_xyte_device_cloud_id"),
    )
    op.create_index("ux_xyte_device_mo", "xyte_devices", ["mo_id"], unique=True)


def downgrade() -> None:
    op.drop_table("xyte_devices")
    op.drop_table("xyte_models")
