"""Rules in SQL (migration 0015); the service keeps them all, compiled, in memory (rules/service.py). The
actions are stored in EMQX's JSON shape and read back through the same check as an operator's."""

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
from tether.rules.models import R_RULES, Rule, parse_actions, render_action
from tether.storage.sql.database import Database
from tether.storage.sql.schema import metadata

rules = Table(
    "rules",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("name", Text, nullable=False),
    Column("sql", Text, nullable=False),
    Column("actions", Text, nullable=False),
    Column("enable", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


def _values(rule: Rule) -> dict[str, Any]:
    return {
        "tenant_id": rule.tenant_id,
        "id": rule.id,
        "name": rule.name,
        "sql": rule.sql,
        "actions": orjson.dumps([render_action(a) for a in rule.actions]).decode(),
        "enable": rule.enable,
        "description": rule.description,
        "metadata": orjson.dumps(rule.metadata).decode(),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def _rule(row: Any) -> Rule:
    return Rule(
        tenant_id=row.tenant_id,
        id=row.id,
        name=row.name,
        sql=row.sql,
        actions=parse_actions(orjson.loads(row.actions)),
        enable=bool(row.enable),
        description=row.description,
        metadata=orjson.loads(row.metadata),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlRuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Rule]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(rules).order_by(rules.c.tenant_id, rules.c.created_at))).all()
        return [_rule(row) for row in rows]

    async def create(self, rule: Rule) -> None:
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(rules).values(**_values(rule)))
        except IntegrityError:
            raise Conflict(f"rule {rule.id!r} exists already", resource=R_RULES) from None

    async def update(self, rule: Rule) -> bool:
        values = _values(rule)
        where = (rules.c.tenant_id == rule.tenant_id, rules.c.id == rule.id)
        async with self._db.write() as conn:
            result = await conn.execute(update(rules).where(*where).values(**values))
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, rule_id: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(rules).where(rules.c.tenant_id == tenant_id, rules.c.id == rule_id)
            )
        return bool(result.rowcount)
