"""Connectors and sink actions of the rule engine in SQL (migration 0017); the service keeps them all in
memory (rules/connector_service.py). Configurations and parameters are stored as JSON, read back through
the same checks as an operator's."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.rules.connectors import R_ACTIONS, R_CONNECTORS, Connector, SinkAction
from tether.storage.sql.database import Database
from tether.storage.sql.schema import metadata

__all__ = ["SqlConnectorStore"]


def _key_columns() -> list[Column[Any]]:
    return [
        Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        Column("type", String(32), primary_key=True),
        Column("name", String(255), primary_key=True),
    ]


rule_connectors = Table(
    "rule_connectors",
    metadata,
    *_key_columns(),
    Column("config", Text, nullable=False),
    Column("enable", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
rule_actions = Table(
    "rule_actions",
    metadata,
    *_key_columns(),
    Column("connector", String(255), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("resource_opts", Text, nullable=False),
    Column("enable", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


class SqlConnectorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all_connectors(self) -> list[Connector]:
        t = rule_connectors
        async with self._db.read() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.tenant_id, t.c.created_at))).all()
        return [
            Connector(
                r.tenant_id,
                r.type,
                r.name,
                orjson.loads(r.config),
                bool(r.enable),
                r.description,
                r.created_at,
                r.updated_at,
            )
            for r in rows
        ]

    async def all_actions(self) -> list[SinkAction]:
        t = rule_actions
        async with self._db.read() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.tenant_id, t.c.created_at))).all()
        return [
            SinkAction(
                r.tenant_id,
                r.type,
                r.name,
                r.connector,
                orjson.loads(r.parameters),
                orjson.loads(r.resource_opts),
                bool(r.enable),
                r.description,
                r.created_at,
                r.updated_at,
            )
            for r in rows
        ]

    async def _save(self, table: Table, values: dict[str, Any], new: bool, resource: str) -> bool:
        key = (
            table.c.tenant_id == values["tenant_id"],
            table.c.type == values["type"],
            table.c.name == values["name"],
        )
        if new:
            try:
                async with self._db.write() as conn:
                    await conn.execute(insert(table).values(**values))
            except IntegrityError:
                raise Conflict(
                    f"{values['type']}:{values['name']} exists already", resource=resource
                ) from None
            return True
        async with self._db.write() as conn:
            result = await conn.execute(update(table).where(*key).values(**values))
        return bool(result.rowcount)

    async def _delete(self, table: Table, tenant_id: str, kind: str, name: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(table).where(
                    table.c.tenant_id == tenant_id, table.c.type == kind, table.c.name == name
                )
            )
        return bool(result.rowcount)

    async def save_connector(self, connector: Connector, *, new: bool) -> bool:
        values = {
            "tenant_id": connector.tenant_id,
            "type": connector.type,
            "name": connector.name,
            "config": _dump(connector.config),
            "enable": connector.enable,
            "description": connector.description,
            "created_at": connector.created_at,
            "updated_at": connector.updated_at,
        }
        return await self._save(rule_connectors, values, new, R_CONNECTORS)

    async def delete_connector(self, tenant_id: str, kind: str, name: str) -> bool:
        return await self._delete(rule_connectors, tenant_id, kind, name)

    async def save_action(self, action: SinkAction, *, new: bool) -> bool:
        values = {
            "tenant_id": action.tenant_id,
            "type": action.type,
            "name": action.name,
            "connector": action.connector,
            "parameters": _dump(action.parameters),
            "resource_opts": _dump(action.resource_opts),
            "enable": action.enable,
            "description": action.description,
            "created_at": action.created_at,
            "updated_at": action.updated_at,
        }
        return await self._save(rule_actions, values, new, R_ACTIONS)

    async def delete_action(self, tenant_id: str, kind: str, name: str) -> bool:
        return await self._delete(rule_actions, tenant_id, kind, name)
