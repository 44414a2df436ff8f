"""Alembic environment: Tether runs migrations itself at start, on the connection it hands over."""

from __future__ import annotations

from alembic import context

from tether.storage.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Tether applies its migrations at start (tether serve); run it instead of alembic")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
