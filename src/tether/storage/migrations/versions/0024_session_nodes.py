"""MQTT sessions carry the cluster node that holds them (docs/cluster.md, "Sessions across nodes"): a node
restores only its own sessions at start, another node adopts those of a node that died, and a save by a node
that no longer holds a session changes nothing. NULL outside a cluster (SQLite always). `online` marks a
session saved while its client was connected: a node adopting it from a node that died counts its Session
Expiry Interval from the death, not from that save.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mqtt_sessions") as batch:
        batch.add_column(sa.Column("online", sa.Boolean))
        batch.add_column(sa.Column("node", sa.Text))
    op.create_index("ix_mqtt_sessions_node", "mqtt_sessions", ["node"])


def downgrade() -> None:
    op.drop_index("ix_mqtt_sessions_node", table_name="mqtt_sessions")
    with op.batch_alter_table("mqtt_sessions") as batch:
        batch.drop_column("node")
        batch.drop_column("online")
