"""Tenants and users in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.storage.sql.database import Database
from tether.storage.sql.schema import tenants, users
from tether.tenants.models import Role, Tenant, User


class SqlTenantStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str) -> Tenant | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        return None if row is None else Tenant(id=row.id, domain=row.domain, creation_time=row.creation_time)

    async def create(self, tenant: Tenant) -> None:
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(tenants).values(
                        id=tenant.id, domain=tenant.domain, creation_time=tenant.creation_time
                    )
                )
        except IntegrityError:
            raise Conflict(f"Tenant {tenant.id} already exists", resource="tenant") from None

    async def ids(self) -> list[str]:
        async with self._db.read() as conn:
            return list((await conn.scalars(select(tenants.c.id).order_by(tenants.c.id))).all())


class SqlUserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str, username: str) -> User | None:
        query = select(users).where(users.c.tenant_id == tenant_id, users.c.username == username)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _user(row)

    async def create(self, user: User) -> None:
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(users).values(
                        tenant_id=user.tenant_id,
                        username=user.username,
                        password_hash=user.password_hash,
                        roles=",".join(sorted(user.roles)),
                        email=user.email,
                        creation_time=user.creation_time,
                    )
                )
        except IntegrityError:
            raise Conflict(f"User {user.username} already exists", resource="user") from None

    async def set_password(self, tenant_id: str, username: str, password_hash: str, changed: int) -> bool:
        query = (
            update(users)
            .where(users.c.tenant_id == tenant_id, users.c.username == username)
            .values(password_hash=password_hash, password_changed=changed)
        )
        async with self._db.write() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)

    async def last_password_change(self) -> int:
        async with self._db.read() as conn:
            value = (await conn.execute(select(func.max(users.c.password_changed)))).scalar()
        return int(value or 0)

    async def password_changes(self, since: int) -> list[tuple[str, str, int]]:
        query = select(users.c.tenant_id, users.c.username, users.c.password_changed).where(
            users.c.password_changed > since
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(row.tenant_id, row.username, row.password_changed) for row in rows]

    async def delete(self, tenant_id: str, username: str) -> bool:
        statement = delete(users).where(users.c.tenant_id == tenant_id, users.c.username == username)
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)


def _user(row: Any) -> User:
    return User(
        tenant_id=row.tenant_id,
        username=row.username,
        password_hash=row.password_hash,
        roles=frozenset(Role(r) for r in row.roles.split(",") if r),
        creation_time=row.creation_time,
        email=row.email,
    )
