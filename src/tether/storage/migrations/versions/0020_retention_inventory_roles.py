"""Data retention and inventory roles. Retention: the tenants' retention rules and the indexes the
retention job deletes by (alarms and operations by tenant and last change); the roles
ROLE_RETENTION_RULE_READ/ADMIN join the default groups (admins both, readers the READ), so that the admins
group still holds every role an administrator holds.
Inventory roles (`/user/inventoryroles`) and their assignments to users on managed objects; every existing
tenant gets Cumulocity's default roles (new tenants get them when created, tenants/service.py).

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Document = sa.JSON().with_variant(JSONB(), "postgresql")
# The default inventory roles as they were when this revision was written (tenants/inventory_roles.py).
_DEFAULT_ROLES = (
    (
        "Manager",
        "Can read and write all data of the assigned objects",
        [{"permission": "*", "scope": "*", "type": "*"}],
    ),
    (
        "Reader",
        "Can read all data of the assigned objects",
        [{"permission": "READ", "scope": "*", "type": "*"}],
    ),
    (
        "Operations: All",
        "Can send every operation to the assigned devices",
        [{"permission": "ADMIN", "scope": "OPERATION", "type": "*"}],
    ),
    (
        "Operations: Restart Device",
        "Can restart the assigned devices",
        [{"permission": "ADMIN", "scope": "OPERATION", "type": "c8y_Restart"}],
    ),
)
_NEW = {
    "admins": ("ROLE_RETENTION_RULE_ADMIN", "ROLE_RETENTION_RULE_READ"),
    "readers": ("ROLE_RETENTION_RULE_READ",),
}


def upgrade() -> None:
    op.create_table(
        "retention_rules",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("data_type", sa.String(16), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("fragment_type", sa.String(255), nullable=False),
        sa.Column("maximum_age", sa.BigInteger, nullable=False),
        sa.Column("editable", sa.Boolean, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_retention_tenant", "retention_rules", ["tenant_id"])
    roles = op.create_table(
        "inventory_roles",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("permissions", _Document, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_inventory_roles_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "inventory_assignments",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("mo_id", _Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role_ids", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "username"], ["users.tenant_id", "users.username"], ondelete="CASCADE"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inventory_assignments_user", "inventory_assignments", ["tenant_id", "username"])
    op.create_index("ix_alarm_tenant_updated", "alarms", ["tenant_id", "last_updated"])
    op.create_index("ix_op_tenant_updated", "operations", ["tenant_id", "last_updated"])
    bind = op.get_bind()
    live = bind.execute(sa.text("SELECT id FROM tenants WHERE status != 'DELETED'")).all()
    rows = [
        {"tenant_id": t, "name": name, "description": description, "permissions": permissions}
        for (t,) in live
        for name, description, permissions in _DEFAULT_ROLES
    ]
    if rows:
        op.bulk_insert(roles, rows)
    for name, added in _NEW.items():
        groups = bind.execute(sa.text("SELECT id, roles FROM user_groups WHERE name = :n"), {"n": name}).all()
        for group_id, group_roles in groups:
            held = {r for r in (group_roles or "").split(",") if r}
            bind.execute(
                sa.text("UPDATE user_groups SET roles = :r WHERE id = :i"),
                {"r": ",".join(sorted(held | set(added))), "i": group_id},
            )


def downgrade() -> None:
    op.drop_index("ix_inventory_assignments_user", "inventory_assignments")
    op.drop_table("inventory_assignments")
    op.drop_table("inventory_roles")
    op.drop_index("ix_op_tenant_updated", "operations")
    op.drop_index("ix_alarm_tenant_updated", "alarms")
    op.drop_index("ix_retention_tenant", "retention_rules")
    op.drop_table("retention_rules")
