"""PostgreSQL: the measurement indexes end with the id, so a page (`ORDER BY time, id` of one source, or of
a tenant) is read in index order and stops after its LIMIT, whatever the planner's statistics say. With
`(tenant_id, source_id, time)` PostgreSQL read every row of the source and sorted them while the table had
no statistics yet (a freshly filled store: 4-6 ms for 4,000 rows of one source, growing with the source;
bench/README.md, REST throughput). SQLite needs no change: its indexes end with the rowid, which is the id.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_meas_source_time": ["tenant_id", "source_id", "time"],
    "ix_meas_tenant_time": ["tenant_id", "time"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="measurements")
        op.create_index(name, "measurements", [*columns, "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="measurements")
        op.create_index(name, "measurements", columns)
