"""When each user's password was last changed (`tether admin set-password`), so that running servers forget
the old password's cached verification within a second.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_changed", sa.BigInteger, nullable=False, server_default="0"))
    op.create_index("ix_users_password_changed", "users", ["password_changed"])


def downgrade() -> None:
    op.drop_index("ix_users_password_changed", "users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_changed")
