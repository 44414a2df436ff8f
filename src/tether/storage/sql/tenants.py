"""Tenants and users in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict, NotFound
from tether.core.paging import Page, PageRequest
from tether.storage.sql.database import Database
from tether.storage.sql.schema import group_members, metadata, tenants, user_groups, users
from tether.storage.sql.small_reads import small_read
from tether.tenants.models import Group, Role, Tenant, TenantStatus, User, UserCriteria
from tether.tenants.permissions import interned

_INACTIVE = "SELECT id FROM tenants WHERE status != ?"
_LAST_PASSWORD_CHANGE = "SELECT max(password_changed) FROM users"
_PASSWORD_CHANGES = "SELECT tenant_id, username, password_changed FROM users WHERE password_changed > ?"


class SqlTenantStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str) -> Tenant | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        return None if row is None else _tenant(row)

    async def create(self, tenant: Tenant) -> None:
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(tenants).values(
                        id=tenant.id, creation_time=tenant.creation_time, **_tenant_fields(tenant)
                    )
                )
        except IntegrityError:
            raise Conflict(f"Tenant {tenant.id} already exists", resource="tenant") from None

    async def ids(self) -> list[str]:
        query = select(tenants.c.id).where(tenants.c.status != TenantStatus.DELETED.value)
        async with self._db.read() as conn:
            return list((await conn.scalars(query.order_by(tenants.c.id))).all())

    async def find(self, page: PageRequest) -> Page[Tenant]:
        live = tenants.c.status != TenantStatus.DELETED.value
        query = select(tenants).where(live).order_by(tenants.c.creation_time, tenants.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(page.page_size).offset(page.offset))).all()
            total = (
                await conn.scalar(select(func.count()).select_from(tenants).where(live))
                if page.with_total
                else None
            )
        return Page([_tenant(r) for r in rows], page, total)

    async def update(self, tenant: Tenant) -> bool:
        statement = update(tenants).where(tenants.c.id == tenant.id).values(**_tenant_fields(tenant))
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def inactive(self) -> set[str]:
        # Every server polls it every second (PasswordChangeWatch): outside SQLAlchemy (small_reads.py).
        rows = await small_read(self._db, _INACTIVE, (TenantStatus.ACTIVE.value,))
        return {row[0] for row in rows}

    async def purge(self, tenant_id: str) -> None:
        # Every table with a tenant_id column, children before parents (the foreign keys would cascade
        # most of it; deleting each explicitly also reaches the tables without a key to `tenants`).
        owned = [t for t in reversed(metadata.sorted_tables) if "tenant_id" in t.c and t is not tenants]
        # The broker's state is keyed by the tenant's mountpoint (adapters/namespaces.py tenant_mountpoint).
        prefix = f"$tenant/{tenant_id}/"
        async with self._db.write() as conn:
            for table in owned:
                await conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
            for table, column in _BROKER_KEYS:
                table_ = metadata.tables.get(table)
                if table_ is not None:
                    key = table_.c[column]
                    await conn.execute(delete(table_).where(key.startswith(prefix, autoescape=True)))
            await conn.execute(
                update(tenants).where(tenants.c.id == tenant_id).values(status=TenantStatus.DELETED.value)
            )


#: Broker tables (storage/sql/broker_state.py) and the column that starts with a tenant's mountpoint.
_BROKER_KEYS = (
    ("mqtt_deliveries", "client_id"),
    ("mqtt_subscriptions", "client_id"),
    ("mqtt_sessions", "client_id"),
    ("mqtt_retained", "topic"),
)


def _tenant_fields(tenant: Tenant) -> dict[str, Any]:
    return {
        "domain": tenant.domain,
        "status": tenant.status.value,
        "company": tenant.company,
        "contact_name": tenant.contact_name,
        "contact_phone": tenant.contact_phone,
        "admin_name": tenant.admin_name,
        "admin_email": tenant.admin_email,
        "parent": tenant.parent,
    }


def _tenant(row: Any) -> Tenant:
    return Tenant(
        id=row.id,
        domain=row.domain,
        creation_time=row.creation_time,
        status=TenantStatus(row.status),
        company=row.company,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        admin_name=row.admin_name,
        admin_email=row.admin_email,
        parent=row.parent,
    )


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
                        **_fields(user),
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
        # At start, before the polls (below): on SQLite the event loop's connection reads the schema now,
        # ~0.9 ms of the loop that the first poll would otherwise spend while clients are connected.
        found = await small_read(self._db, _LAST_PASSWORD_CHANGE, indexed=True)
        return int(found[0][0] or 0)

    async def password_changes(self, since: int) -> list[tuple[str, str, int]]:
        # Every server polls it every second (PasswordChangeWatch): outside SQLAlchemy, on SQLite on the loop
        # itself (ix_users_password_changed bounds it to the users changed since the last poll).
        found = await small_read(self._db, _PASSWORD_CHANGES, (since,), indexed=True)
        return [(tenant_id, username, changed) for tenant_id, username, changed in found]

    async def delete(self, tenant_id: str, username: str) -> bool:
        statement = delete(users).where(users.c.tenant_id == tenant_id, users.c.username == username)
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def find(self, tenant_id: str, criteria: UserCriteria, page: PageRequest) -> Page[User]:
        where: list[Any] = [users.c.tenant_id == tenant_id]
        if criteria.username:
            where.append(users.c.username.startswith(criteria.username, autoescape=True))
        device = users.c.roles == Role.DEVICE.value  # a device user holds the device role alone
        where.append(device if criteria.only_devices else ~device)
        if criteria.groups is not None:
            where.append(
                exists()
                .where(
                    group_members.c.tenant_id == users.c.tenant_id,
                    group_members.c.username == users.c.username,
                    group_members.c.group_id.in_(criteria.groups),
                )
                .correlate(users)
            )
        query = select(users).where(*where).order_by(users.c.username)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(page.page_size).offset(page.offset))).all()
            total = (
                await conn.scalar(select(func.count()).select_from(users).where(*where))
                if page.with_total
                else None
            )
        return Page([_user(r) for r in rows], page, total)

    async def update(self, user: User) -> bool:
        query = (
            update(users)
            .where(users.c.tenant_id == user.tenant_id, users.c.username == user.username)
            .values(email=user.email, **_fields(user))
        )
        async with self._db.write() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)


class SqlGroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, tenant_id: str, name: str, description: str | None, roles: frozenset[str]
    ) -> Group:
        statement = insert(user_groups).values(
            tenant_id=tenant_id, name=name, description=description, roles=_joined(roles)
        )
        try:
            async with self._db.write() as conn:
                result = await conn.execute(statement.returning(user_groups.c.id))
                group_id = int(result.scalar_one())
        except IntegrityError:
            raise Conflict(f"Group {name} already exists", resource="user") from None
        return Group(tenant_id, group_id, name, description, roles)

    async def _one(self, *where: Any) -> Group | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(user_groups).where(*where))).first()
        return None if row is None else _group(row)

    async def get(self, tenant_id: str, group_id: int) -> Group | None:
        return await self._one(user_groups.c.tenant_id == tenant_id, user_groups.c.id == group_id)

    async def by_name(self, tenant_id: str, name: str) -> Group | None:
        return await self._one(user_groups.c.tenant_id == tenant_id, user_groups.c.name == name)

    async def find(self, tenant_id: str, page: PageRequest) -> Page[Group]:
        where = user_groups.c.tenant_id == tenant_id
        query = select(user_groups).where(where).order_by(user_groups.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(page.page_size).offset(page.offset))).all()
            total = (
                await conn.scalar(select(func.count()).select_from(user_groups).where(where))
                if page.with_total
                else None
            )
        return Page([_group(r) for r in rows], page, total)

    async def update(self, group: Group) -> bool:
        statement = (
            update(user_groups)
            .where(user_groups.c.tenant_id == group.tenant_id, user_groups.c.id == group.id)
            .values(name=group.name, description=group.description, roles=_joined(group.roles))
        )
        try:
            async with self._db.write() as conn:
                result = await conn.execute(statement)
        except IntegrityError:
            raise Conflict(f"Group {group.name} already exists", resource="user") from None
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, group_id: int) -> bool:
        async with self._db.write() as conn:
            await conn.execute(delete(group_members).where(group_members.c.group_id == group_id))
            result = await conn.execute(
                delete(user_groups).where(user_groups.c.tenant_id == tenant_id, user_groups.c.id == group_id)
            )
        return bool(result.rowcount)

    async def add_member(self, tenant_id: str, group_id: int, username: str) -> None:
        member = exists().where(group_members.c.group_id == group_id, group_members.c.username == username)
        try:
            async with self._db.write() as conn:
                if await conn.scalar(select(member)):
                    return
                await conn.execute(
                    insert(group_members).values(group_id=group_id, tenant_id=tenant_id, username=username)
                )
        except IntegrityError:
            raise NotFound(f"User {username} not found", resource="user") from None

    async def remove_member(self, tenant_id: str, group_id: int, username: str) -> bool:
        statement = delete(group_members).where(
            group_members.c.tenant_id == tenant_id,
            group_members.c.group_id == group_id,
            group_members.c.username == username,
        )
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def members(self, tenant_id: str, group_id: int, page: PageRequest) -> Page[User]:
        joined = users.join(
            group_members,
            (group_members.c.tenant_id == users.c.tenant_id) & (group_members.c.username == users.c.username),
        )
        where = [group_members.c.tenant_id == tenant_id, group_members.c.group_id == group_id]
        query = select(users).select_from(joined).where(*where).order_by(users.c.username)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(page.page_size).offset(page.offset))).all()
            total = (
                await conn.scalar(select(func.count()).select_from(group_members).where(*where))
                if page.with_total
                else None
            )
        return Page([_user(r) for r in rows], page, total)

    async def of_user(self, tenant_id: str, username: str) -> list[Group]:
        query = (
            select(user_groups)
            .join(group_members, group_members.c.group_id == user_groups.c.id)
            .where(group_members.c.tenant_id == tenant_id, group_members.c.username == username)
            .order_by(user_groups.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_group(r) for r in rows]


def _joined(roles: frozenset[str]) -> str:
    return ",".join(sorted(roles))


def _split(text: str | None) -> frozenset[str]:
    return frozenset(r for r in (text or "").split(",") if r)


def _fields(user: User) -> dict[str, Any]:
    return {
        "enabled": user.enabled,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "display_name": user.display_name,
        "global_roles": _joined(user.global_roles),
    }


def _group(row: Any) -> Group:
    return Group(row.tenant_id, int(row.id), row.name, row.description, _split(row.roles))


def _user(row: Any) -> User:
    return User(
        tenant_id=row.tenant_id,
        username=row.username,
        password_hash=row.password_hash,
        roles=interned(frozenset(Role(r) for r in row.roles.split(",") if r)),
        creation_time=row.creation_time,
        email=row.email,
        enabled=bool(row.enabled),
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        display_name=row.display_name,
        global_roles=_split(row.global_roles),
        password_changed=row.password_changed,
    )
