"""New-device requests in SQL. The id is the primary key across tenants, so a device id is requested
once platform-wide; status changes and the final claim are conditional writes, safe under concurrency."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.core.paging import Page, PageRequest
from tether.registration.models import DeviceRequest, RequestStatus
from tether.storage.sql.database import Database
from tether.storage.sql.schema import new_device_requests as ndr


def _request(row: Any) -> DeviceRequest:
    return DeviceRequest(
        id=row.id,
        tenant_id=row.tenant_id,
        status=RequestStatus(row.status),
        owner=row.owner,
        creation_time=row.creation_time,
        last_updated=row.last_updated,
    )


class SqlDeviceRequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, request: DeviceRequest) -> None:
        values = {
            "id": request.id,
            "tenant_id": request.tenant_id,
            "status": request.status.value,
            "owner": request.owner,
            "creation_time": request.creation_time,
            "last_updated": request.last_updated,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(ndr).values(**values))
        except IntegrityError:
            raise Conflict(
                f"A new device request for id '{request.id}' already exists", resource="devicecontrol"
            ) from None

    async def get(self, tenant_id: str, request_id: str) -> DeviceRequest | None:
        query = select(ndr).where(ndr.c.tenant_id == tenant_id, ndr.c.id == request_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _request(row)

    async def find(self, tenant_id: str, page: PageRequest) -> Page[DeviceRequest]:
        where = (ndr.c.tenant_id == tenant_id,)
        query = (
            select(ndr)
            .where(*where)
            .order_by(ndr.c.creation_time, ndr.c.id)
            .limit(page.page_size)
            .offset(page.offset)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (
                await conn.scalar(select(func.count()).select_from(ndr).where(*where))
                if page.with_total
                else None
            )
        return Page([_request(r) for r in rows], page, total)

    async def delete(self, tenant_id: str, request_id: str) -> bool:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(ndr).where(ndr.c.tenant_id == tenant_id, ndr.c.id == request_id)
            )
        return bool(result.rowcount)

    async def lookup(self, request_id: str) -> DeviceRequest | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(ndr).where(ndr.c.id == request_id))).first()
        return None if row is None else _request(row)

    async def advance(
        self, request_id: str, expected: RequestStatus, status: RequestStatus, now: int
    ) -> DeviceRequest | None:
        statement = (
            update(ndr)
            .where(ndr.c.id == request_id, ndr.c.status == expected.value)
            .values(status=status.value, last_updated=now)
            .returning(ndr)
        )
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else _request(row)

    async def claim(self, request_id: str) -> DeviceRequest | None:
        statement = (
            delete(ndr)
            .where(ndr.c.id == request_id, ndr.c.status == RequestStatus.ACCEPTED.value)
            .returning(ndr)
        )
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else _request(row)
