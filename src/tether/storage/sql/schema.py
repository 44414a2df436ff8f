"""Tables as the queries see them. The migrations in storage/migrations create the same shape."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY (a rowid alias); PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")
Document = JSON().with_variant(JSONB(), "postgresql")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
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
