"""Users, groups and global roles (Cumulocity /user): a user's enabled flag, names and own roles; groups with
their roles and members; every existing tenant gets the default groups (admins, readers, devices) and its
administrators and device users become members of them.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The default groups as they were when this revision was written (tenants/permissions.py may change later).
_FAMILIES = (
    "INVENTORY",
    "IDENTITY",
    "MEASUREMENT",
    "EVENT",
    "ALARM",
    "DEVICE_CONTROL",
    "USER_MANAGEMENT",
    "TENANT_MANAGEMENT",
    "OPTION_MANAGEMENT",
    "AUDIT",
)
_ALL = ",".join(sorted([f"ROLE_{f}_READ" for f in _FAMILIES] + [f"ROLE_{f}_ADMIN" for f in _FAMILIES]))
_READS = ",".join(sorted(f"ROLE_{f}_READ" for f in _FAMILIES))
_DEFAULTS = (
    ("admins", "Users with full access to the tenant", _ALL, "admin"),
    ("readers", "Users who may read everything", _READS, None),
    (
        "devices",
        "Device users (their rights are those of a device: the objects they own)",
        "ROLE_IDENTITY_READ,ROLE_INVENTORY_READ",
        "device",
    ),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("first_name", sa.String(255)))
        batch.add_column(sa.Column("last_name", sa.String(255)))
        batch.add_column(sa.Column("phone", sa.String(64)))
        batch.add_column(sa.Column("display_name", sa.String(255)))
        batch.add_column(sa.Column("global_roles", sa.Text, nullable=False, server_default=""))
    groups = op.create_table(
        "user_groups",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("roles", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("tenant_id", "name", name="uq_user_groups_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "group_members",
        sa.Column(
            "group_id", sa.BigInteger, sa.ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(255), primary_key=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "username"], ["users.tenant_id", "users.username"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_group_members_user", "group_members", ["tenant_id", "username"])
    bind = op.get_bind()
    tenants = [row[0] for row in bind.execute(sa.text("SELECT id FROM tenants")).all()]
    for tenant in tenants:
        for name, description, roles, members_role in _DEFAULTS:
            bind.execute(
                groups.insert().values(tenant_id=tenant, name=name, description=description, roles=roles)
            )
            if members_role is None:
                continue
            bind.execute(
                sa.text(
                    "INSERT INTO group_members (group_id, tenant_id, username) "
                    "SELECT g.id, u.tenant_id, u.username FROM users u JOIN user_groups g "
                    "ON g.tenant_id = u.tenant_id AND g.name = :name "
                    "WHERE u.tenant_id = :tenant AND u.roles = :role"
                ),
                {"name": name, "tenant": tenant, "role": members_role},
            )


def downgrade() -> None:
    op.drop_index("ix_group_members_user", "group_members")
    op.drop_table("group_members")
    op.drop_table("user_groups")
    with op.batch_alter_table("users") as batch:
        for column in ("global_roles", "display_name", "phone", "last_name", "first_name", "enabled"):
            batch.drop_column(column)
