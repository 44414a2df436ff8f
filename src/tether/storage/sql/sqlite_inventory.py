"""Managed objects on SQLite straight through the driver, for the hot REST paths (GET by id, create).

SQLAlchemy's execution of one statement (building the expression, its cache key, the execution context, the
result's metadata, a pool checkout) cost more CPU than the whole rest of a GET by id (bench/README.md, REST
throughput). Here each read is one function run in a reader connection's thread (SqliteDialect.query: the
object and its references in one trip, the JSON document parsed there) and a create is one function run in
the writer's thread inside the group commit (SqliteDialect.run). The statements are the ones storage/sql/
inventory.py builds with SQLAlchemy for PostgreSQL, written out for SQLite; sqlite3 keeps them prepared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from tether.inventory.models import ChildKind, ManagedObject, Reference, Relations

_COLUMNS = "id, tenant_id, owner, creation_time, last_updated, name, type, attrs"
_GET = f"SELECT {_COLUMNS} FROM managed_objects WHERE tenant_id = ? AND id = ?"
_CHILDREN = (
    "SELECT r.kind, r.child_id, m.name FROM mo_references r JOIN managed_objects m ON m.id = r.child_id "
    "WHERE r.tenant_id = ? AND r.parent_id = ? ORDER BY r.creation_time, r.child_id"
)
_PARENTS = (
    "SELECT r.kind, r.parent_id, m.name FROM mo_references r JOIN managed_objects m ON m.id = r.parent_id "
    "WHERE r.tenant_id = ? AND r.child_id = ? ORDER BY r.creation_time, r.parent_id"
)
_INSERT = (
    "INSERT INTO managed_objects (tenant_id, owner, name, type, creation_time, last_updated, attrs) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)

Row = tuple[Any, ...]
Links = list[tuple[str, int, str | None]]


def _row(db: sqlite3.Connection, tenant_id: str, mo_id: int) -> Row | None:
    row: Row | None = db.execute(_GET, (tenant_id, mo_id)).fetchone()
    if row is None:
        return None
    return (*row[:7], orjson.loads(row[7]))


def get(tenant_id: str, mo_id: int) -> Callable[[sqlite3.Connection], Row | None]:
    return lambda db: _row(db, tenant_id, mo_id)


def get_with_relations(
    tenant_id: str, mo_id: int
) -> Callable[[sqlite3.Connection], tuple[Row, Links, Links] | None]:
    def read(db: sqlite3.Connection) -> tuple[Row, Links, Links] | None:
        row = _row(db, tenant_id, mo_id)
        if row is None:
            return None
        children = db.execute(_CHILDREN, (tenant_id, mo_id)).fetchall()
        parents = db.execute(_PARENTS, (tenant_id, mo_id)).fetchall()
        return row, children, parents

    return read


def insert(values: dict[str, Any]) -> Callable[[sqlite3.Connection], int | None]:
    params = (
        values["tenant_id"],
        values["owner"],
        values["name"],
        values["type"],
        values["creation_time"],
        values["last_updated"],
        orjson.dumps(values["attrs"]).decode(),
    )
    return lambda db: db.execute(_INSERT, params).lastrowid


def managed_object(row: Row) -> ManagedObject:
    return ManagedObject(
        id=row[0],
        tenant_id=row[1],
        owner=row[2],
        creation_time=row[3],
        last_updated=row[4],
        name=row[5],
        type=row[6],
        fragments=row[7],
    )


def relations(children: Links, parents: Links) -> Relations:
    result = Relations()
    for kind, child_id, name in children:
        ref = Reference(ChildKind(kind), child_id, name)
        result.children.setdefault(ref.kind, []).append(ref)
    for kind, parent_id, name in parents:
        ref = Reference(ChildKind(kind), parent_id, name)
        result.parents.setdefault(ref.kind, []).append(ref)
    return result
