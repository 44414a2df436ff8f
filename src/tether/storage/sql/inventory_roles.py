"""Inventory roles and their assignments in SQL (migration 0020)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.storage.sql.database import Database
from tether.storage.sql.schema import NEVER_REUSED, Document, Id, managed_objects, metadata, users
from tether.tenants.inventory_roles import Assignment, InventoryRole, RoleDraft
from tether.tenants.models import InventoryPermission

inventory_roles = Table(
    "inventory_roles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("permissions", Document, nullable=False),  # [{permission, scope, type}]
    UniqueConstraint("tenant_id", "name", name="uq_inventory_roles_name"),
    **NEVER_REUSED,
)
inventory_assignments = Table(
    "inventory_assignments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("username", String(255), nullable=False),
    Column("mo_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Column("role_ids", Text, nullable=False),  # comma-separated inventory role ids
    ForeignKeyConstraint(
        ["tenant_id", "username"], ["users.tenant_id", "users.username"], ondelete="CASCADE"
    ),
    Index("ix_inventory_assignments_user", "tenant_id", "username"),
    **NEVER_REUSED,
)
_r, _a = inventory_roles, inventory_assignments


def _role(row: Any) -> InventoryRole:
    permissions = tuple(
        InventoryPermission(p["permission"], p["scope"], p.get("type", "*")) for p in row.permissions
    )
    return InventoryRole(row.id, row.tenant_id, row.name, row.description, permissions)


def _document(draft: RoleDraft) -> list[dict[str, str]]:
    return [{"permission": p.permission, "scope": p.scope, "type": p.type} for p in draft.permissions]


def _ids(text: str) -> tuple[int, ...]:
    return tuple(int(i) for i in text.split(",") if i)


def _assignment(row: Any) -> Assignment:
    return Assignment(row.id, row.tenant_id, row.username, row.mo_id, _ids(row.role_ids))


class SqlInventoryRoleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, tenant_id: str, draft: RoleDraft) -> InventoryRole:
        values = {
            "tenant_id": tenant_id,
            "name": draft.name,
            "description": draft.description,
            "permissions": _document(draft),
        }
        try:
            async with self._db.write() as conn:
                role_id = await conn.scalar(_r.insert().values(**values).returning(_r.c.id))
        except IntegrityError:
            raise Conflict(f"Inventory role '{draft.name}' already exists", resource="user") from None
        assert role_id is not None
        return InventoryRole(role_id, tenant_id, draft.name, draft.description, draft.permissions)

    async def _roles(self, *where: Any, page: PageRequest | None = None) -> list[InventoryRole]:
        query = select(_r).where(*where).order_by(_r.c.id)
        if page is not None:
            query = query.limit(page.page_size).offset(page.offset)
        async with self._db.read() as conn:
            return [_role(r) for r in (await conn.execute(query)).all()]

    async def get(self, tenant_id: str, role_id: int) -> InventoryRole | None:
        found = await self._roles(_r.c.tenant_id == tenant_id, _r.c.id == role_id)
        return found[0] if found else None

    async def by_ids(self, tenant_id: str, role_ids: list[int]) -> list[InventoryRole]:
        return await self._roles(_r.c.tenant_id == tenant_id, _r.c.id.in_(role_ids)) if role_ids else []

    async def by_name(self, tenant_id: str, name: str) -> InventoryRole | None:
        found = await self._roles(_r.c.tenant_id == tenant_id, _r.c.name == name)
        return found[0] if found else None

    async def find(self, tenant_id: str, page: PageRequest) -> Page[InventoryRole]:
        where = _r.c.tenant_id == tenant_id
        items = await self._roles(where, page=page)
        total = None
        if page.with_total:
            async with self._db.read() as conn:
                total = await conn.scalar(select(func.count()).select_from(_r).where(where))
        return Page(items, page, total)

    async def update(self, tenant_id: str, role_id: int, draft: RoleDraft) -> bool:
        values = {"name": draft.name, "description": draft.description, "permissions": _document(draft)}
        try:
            async with self._db.write() as conn:
                result = await conn.execute(
                    update(_r).where(_r.c.tenant_id == tenant_id, _r.c.id == role_id).values(**values)
                )
        except IntegrityError:
            raise Conflict(f"Inventory role '{draft.name}' already exists", resource="user") from None
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, role_id: int) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(delete(_r).where(_r.c.tenant_id == tenant_id, _r.c.id == role_id))
            if not result.rowcount:
                return False
            rows = (await conn.execute(select(_a).where(_a.c.tenant_id == tenant_id))).all()
            for row in rows:
                left = [i for i in _ids(row.role_ids) if i != role_id]
                if len(left) == len(_ids(row.role_ids)):
                    continue
                if left:
                    text = ",".join(map(str, left))
                    await conn.execute(update(_a).where(_a.c.id == row.id).values(role_ids=text))
                else:
                    await conn.execute(delete(_a).where(_a.c.id == row.id))
        return True

    async def assign(self, tenant_id: str, username: str, mo_id: int, role_ids: list[int]) -> Assignment:
        values = {
            "tenant_id": tenant_id,
            "username": username,
            "mo_id": mo_id,
            "role_ids": ",".join(map(str, role_ids)),
        }
        async with self._db.write() as conn:
            assignment_id = await conn.scalar(_a.insert().values(**values).returning(_a.c.id))
        assert assignment_id is not None
        return Assignment(assignment_id, tenant_id, username, mo_id, tuple(role_ids))

    async def _assignments(self, *where: Any) -> list[Assignment]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(_a).where(*where).order_by(_a.c.id))).all()
        return [_assignment(r) for r in rows]

    async def assignment(self, tenant_id: str, username: str, assignment_id: int) -> Assignment | None:
        found = await self._assignments(
            _a.c.tenant_id == tenant_id, _a.c.username == username, _a.c.id == assignment_id
        )
        return found[0] if found else None

    async def assignments(self, tenant_id: str, username: str) -> list[Assignment]:
        return await self._assignments(_a.c.tenant_id == tenant_id, _a.c.username == username)

    async def reassign(self, tenant_id: str, username: str, assignment_id: int, role_ids: list[int]) -> bool:
        where = (_a.c.tenant_id == tenant_id, _a.c.username == username, _a.c.id == assignment_id)
        async with self._db.write() as conn:
            result = await conn.execute(
                update(_a).where(*where).values(role_ids=",".join(map(str, role_ids)))
            )
        return bool(result.rowcount)

    async def unassign(self, tenant_id: str, username: str, assignment_id: int) -> bool:
        where = (_a.c.tenant_id == tenant_id, _a.c.username == username, _a.c.id == assignment_id)
        async with self._db.write() as conn:
            result = await conn.execute(delete(_a).where(*where))
        return bool(result.rowcount)

    async def user_exists(self, tenant_id: str, username: str) -> bool:
        query = select(users.c.username).where(users.c.tenant_id == tenant_id, users.c.username == username)
        async with self._db.read() as conn:
            return (await conn.scalar(query)) is not None

    async def object_exists(self, tenant_id: str, mo_id: int) -> bool:
        mo = managed_objects
        async with self._db.read() as conn:
            return (
                await conn.scalar(select(mo.c.id).where(mo.c.tenant_id == tenant_id, mo.c.id == mo_id))
            ) is not None
