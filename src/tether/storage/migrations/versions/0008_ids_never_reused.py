"""Ids are never reused: SQLite tables whose ids leave the server become AUTOINCREMENT.

Without AUTOINCREMENT SQLite gives a new row max(rowid) + 1, so the id of the newest row, once deleted, is
handed to the next row (https://www.sqlite.org/autoinc.html): a client or a live device that still holds
it would reach another object. With AUTOINCREMENT the next id is one above the largest ever issued, kept
in sqlite_sequence. SQLite cannot add it to a table, so each table is rebuilt (create, copy, drop, rename,
indexes: Alembic's batch mode, https://www.sqlite.org/lang_altertable.html#otheralter); the storage runs
migrations with foreign keys off (storage/sqlite.py migrate), so dropping managed_objects cascades nothing.
The sequence starts above every id the database still shows (for managed objects also the agents that
operations name); ids of the newest rows deleted before this upgrade left no trace and cannot be known.

PostgreSQL: no-op. The ids are BIGSERIAL sequences, which never hand out a value twice (nextval is not
rolled back and never decreases without an explicit setval).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Every table with a numeric id the server hands out; the other tables are keyed by names, UUIDs or
#: (for broker state) values that never leave the server.
TABLES = ("managed_objects", "measurements", "events", "alarms", "operations", "smartrest_templates")
#: Ids other tables still hold although the row is gone (no foreign key): the sequence starts above them.
_REFERENCED = {"managed_objects": ["SELECT max(agent_id) FROM operations"]}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        # Dropping managed_objects would delete every measurement, event, alarm and operation.
        raise RuntimeError("migration 0008 must run with foreign keys off (storage/sqlite.py migrate)")
    for table in TABLES:
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar()
        if sql is None or "AUTOINCREMENT" in sql.upper():
            continue
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
        queries = [f"SELECT max(id) FROM {table}", *_REFERENCED.get(table, [])]
        floor = max(bind.exec_driver_sql(query).scalar() or 0 for query in queries)
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, floor))
