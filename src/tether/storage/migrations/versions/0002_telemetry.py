"""Measurements, events and alarms (one open alarm per source and type).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")
OPEN = sa.text("status IN ('ACTIVE', 'ACKNOWLEDGED')")


def _source() -> sa.Column[int]:
    return sa.Column("source_id", Id, sa.ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "measurements",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        _source(),
        sa.Column("type", sa.String(255)),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("fragments", Document, nullable=False),
    )
    op.create_index("ix_meas_source_time", "measurements", ["tenant_id", "source_id", "time"])
    op.create_index("ix_meas_tenant_time", "measurements", ["tenant_id", "time"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        _source(),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.Column("fragments", Document, nullable=False),
    )
    op.create_index("ix_event_source_time", "events", ["tenant_id", "source_id", "time"])
    op.create_index("ix_event_tenant_time", "events", ["tenant_id", "time"])
    op.create_table(
        "alarms",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        _source(),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("first_occurrence_time", sa.BigInteger, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.Column("fragments", Document, nullable=False),
    )
    op.create_index("ix_alarm_source_time", "alarms", ["tenant_id", "source_id", "time"])
    op.create_index("ix_alarm_tenant_status", "alarms", ["tenant_id", "status", "time"])
    op.create_index(
        "ux_alarm_open",
        "alarms",
        ["tenant_id", "source_id", "type"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
