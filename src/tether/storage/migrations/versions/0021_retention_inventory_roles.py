"""Data retention: the tenants' retention rules and the indexes the retention job deletes by (alarms and
operations by tenant and last change); the roles ROLE_RETENTION_RULE_READ/ADMIN join the default groups
(admins both, readers the READ), so that the admins group still holds every role an administrator holds.

Revision ID: 0021
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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
    op.create_index("ix_alarm_tenant_updated", "alarms", ["tenant_id", "last_updated"])
    op.create_index("ix_op_tenant_updated", "operations", ["tenant_id", "last_updated"])
    bind = op.get_bind()
    for name, added in _NEW.items():
        rows = bind.execute(sa.text("SELECT id, roles FROM user_groups WHERE name = :n"), {"n": name}).all()
        for group_id, roles in rows:
            held = {r for r in (roles or "").split(",") if r}
            bind.execute(
                sa.text("UPDATE user_groups SET roles = :r WHERE id = :i"),
                {"r": ",".join(sorted(held | set(added))), "i": group_id},
            )


def downgrade() -> None:
    op.drop_index("ix_op_tenant_updated", "operations")
    op.drop_index("ix_alarm_tenant_updated", "alarms")
    op.drop_index("ix_retention_tenant", "retention_rules")
    op.drop_table("retention_rules")
