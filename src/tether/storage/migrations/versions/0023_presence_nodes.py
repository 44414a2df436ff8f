"""Connection history knows the cluster node of each connection: a starting node closes only the rows it left
open itself, and the leader those of nodes that are gone (docs/cluster.md). "" is a process alone.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connection_history", sa.Column("node", sa.String(64), nullable=False, server_default=""))
    # Open rows by node (close a node's connections) and by device (is it connected anywhere).
    op.create_index("ix_connection_history_open", "connection_history", ["disconnected_at", "node"])


def downgrade() -> None:
    op.drop_index("ix_connection_history_open", table_name="connection_history")
    with op.batch_alter_table("connection_history") as batch:
        batch.drop_column("node")
