"""Tables as the queries see them. The migrations in storage/migrations create the same shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY (a rowid alias); PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")
#: Table option of every table whose ids leave the server: ids are never reused. SQLite hands a new row
#: max(rowid) + 1 unless the table is AUTOINCREMENT (then max ever issued + 1, kept in sqlite_sequence;
#: https://www.sqlite.org/autoinc.html); PostgreSQL's sequences never go back (migration 0008).
NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}
Document = JSON().with_variant(JSONB(), "postgresql")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    # Tenant administration (migration 0018): ACTIVE, SUSPENDED, or DELETED (its data is gone; the row keeps
    # the id from being issued again) and Cumulocity's tenant fields.
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("company", String(256)),
    Column("contact_name", String(256)),
    Column("contact_phone", String(64)),
    Column("admin_name", String(255)),
    Column("admin_email", String(255)),
    Column("parent", String(64)),
)

users = Table(
    "users",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(255), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("roles", String(255), nullable=False),
    Column("email", String(255)),
    Column("creation_time", BigInteger, nullable=False),
    # ms since the epoch of the last password change (0: never); running servers poll it (migration 0008).
    Column("password_changed", BigInteger, nullable=False, server_default="0"),
    Index("ix_users_password_changed", "password_changed"),
    # Cumulocity's user fields and the user's own global roles, comma-separated (migration 0016).
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("phone", String(64)),
    Column("display_name", String(255)),
    Column("global_roles", Text, nullable=False, server_default=""),
)

user_groups = Table(
    "user_groups",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("roles", Text, nullable=False, server_default=""),  # comma-separated global roles
    UniqueConstraint("tenant_id", "name", name="uq_user_groups_name"),
    **NEVER_REUSED,
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", BigInteger, ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("username", String(255), primary_key=True),
    ForeignKeyConstraint(
        ["tenant_id", "username"], ["users.tenant_id", "users.username"], ondelete="CASCADE"
    ),
    Index("ix_group_members_user", "tenant_id", "username"),
)

managed_objects = Table(
    "managed_objects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(255)),
    Column("name", Text),
    Column("owner", String(255), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("attrs", Document, nullable=False),
    Index("ix_mo_tenant_type", "tenant_id", "type"),
    Index("ix_mo_tenant_owner", "tenant_id", "owner"),
    **NEVER_REUSED,
)

mo_references = Table(
    "mo_references",
    metadata,
    Column("parent_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("child_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Index("ix_ref_child", "child_id", "kind"),
)

external_ids = Table(
    "external_ids",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("type", String(255), primary_key=True),
    Column("value", String(1024), primary_key=True),
    Column("mo_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Index("ix_xid_mo", "mo_id"),
)

# -- telemetry: measurements, events, alarms (migration 0002) ---------------------------------

measurements = Table(
    "measurements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    # SQLite's key; on PostgreSQL two statement-level triggers stand for it (migration 0025): an insert locks
    # its distinct sources once and fails unless each is a managed object of the row's tenant, and deleting a
    # managed object deletes its measurements in the same transaction.
    Column("source_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(255)),
    Column("time", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("fragments", Document, nullable=False),
    # On PostgreSQL both end with the id (migration 0022): pages are read in index order; SQLite's end
    # with the rowid, which is the id.
    Index("ix_meas_source_time", "tenant_id", "source_id", "time"),
    Index("ix_meas_tenant_time", "tenant_id", "time"),
    **NEVER_REUSED,
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(255), nullable=False),
    Column("text", Text, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("fragments", Document, nullable=False),
    Index("ix_event_source_time", "tenant_id", "source_id", "time"),
    Index("ix_event_tenant_time", "tenant_id", "time"),
    **NEVER_REUSED,
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(255), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("first_occurrence_time", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("fragments", Document, nullable=False),
    Index("ix_alarm_source_time", "tenant_id", "source_id", "time"),
    Index("ix_alarm_tenant_status", "tenant_id", "status", "time"),
    Index("ix_alarm_tenant_updated", "tenant_id", "last_updated"),  # retention (migration 0020)
    # De-duplication: at most one ACTIVE or ACKNOWLEDGED alarm per (tenant, source, type).
    Index(
        "ux_alarm_open",
        "tenant_id",
        "source_id",
        "type",
        unique=True,
        sqlite_where=text("status IN ('ACTIVE', 'ACKNOWLEDGED')"),
        postgresql_where=text("status IN ('ACTIVE', 'ACKNOWLEDGED')"),
    ),
    **NEVER_REUSED,
)

# -- device control: operations and device registration (migration 0003) ---------------------

operations = Table(
    "operations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("device_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", Id),  # the device itself or its nearest ancestor with com_cumulocity_model_Agent
    Column("status", String(16), nullable=False),
    Column("failure_reason", Text),
    Column("bulk_operation_id", BigInteger),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("fragments", Document, nullable=False),
    Index("ix_op_agent_status", "tenant_id", "agent_id", "status", "id"),
    Index("ix_op_device_status", "tenant_id", "device_id", "status", "id"),
    Index("ix_op_tenant_updated", "tenant_id", "last_updated"),  # retention (migration 0020)
    Index("ix_op_bulk", "tenant_id", "bulk_operation_id", "status"),
    **NEVER_REUSED,
)

# Bulk operations (migration 0021): the run's state is stored so that it goes on after a restart.
bulk_operations = Table(
    "bulk_operations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", BigInteger),
    Column("failed_parent_id", BigInteger),
    Column("start_date", BigInteger, nullable=False),
    Column("creation_ramp", Float, nullable=False),
    Column("prototype", Document, nullable=False),
    Column("status", String(16), nullable=False),
    Column("targets", Document, nullable=False),  # the device ids, in creation order
    Column("created", BigInteger, nullable=False),  # how many of them have their operation
    Column("next_at", BigInteger, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Index("ix_bulk_due", "status", "next_at"),
    Index("ix_bulk_tenant", "tenant_id", "id"),
    **NEVER_REUSED,
)

new_device_requests = Table(
    "new_device_requests",
    metadata,
    Column("id", String(255), primary_key=True),  # the device's identifier: unique platform-wide
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("owner", String(255)),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
)
