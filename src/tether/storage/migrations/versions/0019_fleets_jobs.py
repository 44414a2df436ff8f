"""EMQX Fleets jobs: `fleets_jobs` (a job: its document, targets, type and timers) and
`fleets_job_executions` (one per job and thing: status, version, status details, timers and the deadline the
job timer waits for, so timeouts outlive a restart).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fleets_jobs",
        sa.Column("seq", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("canceled", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("document", Document, nullable=False),
        sa.Column("targets", Document, nullable=False),
        sa.Column("in_progress_timeout", sa.BigInteger),
        sa.Column("step_timeout", sa.BigInteger),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("tenant_id", "job_id", name="uq_fleets_jobs_job_id"),
        sqlite_autoincrement=True,  # ids are never reused (migration 0008)
    )
    op.create_table(
        "fleets_job_executions",
        sa.Column(
            "job_seq", sa.BigInteger, sa.ForeignKey("fleets_jobs.seq", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("mo_id", sa.BigInteger, primary_key=True),
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("thing_name", sa.String(128), nullable=False),
        sa.Column("execution_number", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("status_details", Document, nullable=False),
        sa.Column("queued_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("step_deadline", sa.BigInteger),
        sa.Column("progress_deadline", sa.BigInteger),
        sa.Column("deadline", sa.BigInteger),
    )
    op.create_index(
        "ix_fleets_job_executions_thing", "fleets_job_executions", ["tenant_id", "mo_id", "status"]
    )
    op.create_index("ix_fleets_job_executions_status", "fleets_job_executions", ["job_seq", "status"])
    op.create_index("ix_fleets_job_executions_deadline", "fleets_job_executions", ["deadline"])


def downgrade() -> None:
    op.drop_table("fleets_job_executions")
    op.drop_table("fleets_jobs")
