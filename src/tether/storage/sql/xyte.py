"""Xyte device models and registered devices in SQL (migration 0005).

Unique constraints are the final word on "registered once": a hardware key platform-wide, a model name
per tenant, a serial number per model, a MAC and a cloud id per tenant (NULLs never collide). The device
row cascades away with its managed object.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tether.core.errors import Conflict
from tether.registration.xyte_models import CommunicationProtocol, DeviceModel, XyteDevice
from tether.storage.sql.database import Database
from tether.storage.sql.schema import Id, metadata

R = "xyte"

xyte_models = Table(
    "xyte_models",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("communication_protocol", String(16), nullable=False),
    Column("hardware_key", String(64), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    UniqueConstraint("hardware_key", name="ux_xyte_model_key"),
    UniqueConstraint("tenant_id", "name", name="ux_xyte_model_name"),
)

xyte_devices = Table(
    "xyte_devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("model_id", String(36), ForeignKey("xyte_models.id"), nullable=False),
    Column("mo_id", Id, ForeignKey("managed_objects.id", ondelete="CASCADE"), nullable=False),
    Column("sn", String(255), nullable=False),
    Column("mac", String(17)),
    Column("cloud_id", String(255)),
    Column("access_key_hash", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    UniqueConstraint("model_id", "sn", name="ux_xyte_device_sn"),
    UniqueConstraint("tenant_id", "mac", name="ux_xyte_device_mac"),
    UniqueConstraint("tenant_id", "cloud_id", name="ux_xyte_device_cloud_id"),
    Index("ux_xyte_device_mo", "mo_id", unique=True),
)


def _model(row: Any) -> DeviceModel:
    return DeviceModel(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        communication_protocol=CommunicationProtocol(row.communication_protocol),
        hardware_key=row.hardware_key,
        creation_time=row.creation_time,
        last_updated=row.last_updated,
    )


def _device(row: Any) -> XyteDevice:
    return XyteDevice(
        id=row.id,
        tenant_id=row.tenant_id,
        model_id=row.model_id,
        mo_id=row.mo_id,
        sn=row.sn,
        mac=row.mac,
        cloud_id=row.cloud_id,
        access_key_hash=row.access_key_hash,
        creation_time=row.creation_time,
    )


class SqlXyteStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- models -----------------------------------------------------------------------------------

    async def create_model(self, model: DeviceModel) -> None:
        values = {
            "id": model.id,
            "tenant_id": model.tenant_id,
            "name": model.name,
            "communication_protocol": model.communication_protocol.value,
            "hardware_key": model.hardware_key,
            "creation_time": model.creation_time,
            "last_updated": model.last_updated,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(xyte_models).values(**values))
        except IntegrityError:
            raise Conflict(f"A device model named '{model.name}' already exists", resource=R) from None

    async def get_model(self, tenant_id: str, model_id: str) -> DeviceModel | None:
        query = select(xyte_models).where(xyte_models.c.tenant_id == tenant_id, xyte_models.c.id == model_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _model(row)

    async def list_models(self, tenant_id: str) -> list[DeviceModel]:
        query = (
            select(xyte_models)
            .where(xyte_models.c.tenant_id == tenant_id)
            .order_by(xyte_models.c.creation_time, xyte_models.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_model(r) for r in rows]

    async def rename_model(self, tenant_id: str, model_id: str, name: str, now: int) -> DeviceModel | None:
        statement = (
            update(xyte_models)
            .where(xyte_models.c.tenant_id == tenant_id, xyte_models.c.id == model_id)
            .values(name=name, last_updated=now)
            .returning(xyte_models)
        )
        try:
            async with self._db.write() as conn:
                row = (await conn.execute(statement)).first()
        except IntegrityError:
            raise Conflict(f"A device model named '{name}' already exists", resource=R) from None
        return None if row is None else _model(row)

    async def model_by_hardware_key(self, hardware_key: str) -> DeviceModel | None:
        query = select(xyte_models).where(xyte_models.c.hardware_key == hardware_key)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _model(row)

    # -- devices ----------------------------------------------------------------------------------

    async def find_duplicate(
        self, tenant_id: str, model_id: str, sn: str, mac: str | None, cloud_id: str | None
    ) -> str | None:
        d = xyte_devices.c
        clauses = [(d.model_id == model_id) & (d.sn == sn)]
        if mac is not None:
            clauses.append((d.tenant_id == tenant_id) & (d.mac == mac))
        if cloud_id is not None:
            clauses.append((d.tenant_id == tenant_id) & (d.cloud_id == cloud_id))
        query = select(d.model_id, d.sn, d.mac, d.cloud_id).where(or_(*clauses)).limit(1)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        if row.model_id == model_id and row.sn == sn:
            return f"serial number '{sn}' of this model"
        if mac is not None and row.mac == mac:
            return f"MAC address '{mac}'"
        return f"cloud id '{cloud_id}'"

    async def create_device(self, device: XyteDevice) -> None:
        values = {
            "id": device.id,
            "tenant_id": device.tenant_id,
            "model_id": device.model_id,
            "mo_id": device.mo_id,
            "sn": device.sn,
            "mac": device.mac,
            "cloud_id": device.cloud_id,
            "access_key_hash": device.access_key_hash,
            "creation_time": device.creation_time,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(xyte_devices).values(**values))
        except IntegrityError:
            raise Conflict("Device already registered", resource=R) from None

    async def get_device(self, device_id: str) -> XyteDevice | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(xyte_devices).where(xyte_devices.c.id == device_id))).first()
        return None if row is None else _device(row)

    async def device_for_object(self, tenant_id: str, mo_id: int) -> XyteDevice | None:
        query = select(xyte_devices).where(
            xyte_devices.c.tenant_id == tenant_id, xyte_devices.c.mo_id == mo_id
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _device(row)


__all__ = ["SqlXyteStore", "xyte_devices", "xyte_models"]
