"""The ban store (storage/sql/bans.py) on SQLite and PostgreSQL, and the service over it."""

from __future__ import annotations

import pytest

from tether.core.errors import Conflict, Forbidden, NotFound
from tether.credentials.banning import BanService
from tether.credentials.bans import Ban, BanFilter, BanKind, Candidate
from tether.storage.sql.storage import SqlStorage
from tether.tenants.models import Principal, Role

pytestmark = pytest.mark.anyio
T1 = Principal("t1", "admin", frozenset({Role.ADMIN}))
T2 = Principal("t2", "admin", frozenset({Role.ADMIN}))


async def test_store(storage: SqlStorage) -> None:
    bans = storage.bans
    ban = Ban("t1", BanKind.CLIENTID, "c1", "ops", "why", 1_000, None)
    await bans.create(ban)
    await bans.create(Ban("t1", BanKind.PEERHOST_NET, "10.0.0.0/8", "ops", "", 2_000, 9_000))
    await bans.create(Ban("t2", BanKind.CLIENTID, "c1", "x", "", 3_000, None))
    with pytest.raises(Conflict):
        await bans.create(ban)
    assert [(b.tenant_id, b.kind, b.who, b.until) for b in await bans.all()] == [
        ("t1", BanKind.CLIENTID, "c1", None),
        ("t1", BanKind.PEERHOST_NET, "10.0.0.0/8", 9_000),
        ("t2", BanKind.CLIENTID, "c1", None),
    ]
    assert (await bans.all())[0] == ban
    assert not await bans.delete("t1", BanKind.USERNAME, "c1")
    assert await bans.delete("t1", BanKind.CLIENTID, "c1")
    assert await bans.clear("t1") == 1
    assert [b.tenant_id for b in await bans.all()] == ["t2"]


async def test_service_matches_in_memory_and_reloads(storage: SqlStorage) -> None:
    service = BanService(storage.bans)
    await service.load()
    assert not service.any
    device = Candidate("d:SER1", ("device_SER1", "t1/device_SER1"), "::ffff:10.2.3.4")
    await service.create(T1, BanKind.PEERHOST_NET, "10.2.0.0/16", by="ops", reason="")
    hit = service.banned("t1", device)
    assert hit is not None and hit.who == "10.2.0.0/16"
    assert service.banned("t2", device) is None  # bans are per tenant
    with pytest.raises(Conflict):
        await service.create(T1, BanKind.PEERHOST_NET, "10.2.0.0/16", by="ops", reason="")
    await service.create(T1, BanKind.USERNAME_RE, "^device_", by="ops", reason="")
    assert [b.kind for b in service.find(T1, BanFilter())] == [BanKind.PEERHOST_NET, BanKind.USERNAME_RE]
    assert service.find(T2, BanFilter()) == []
    with pytest.raises(Forbidden):
        service.find(Principal("t1", "d", frozenset({Role.DEVICE})), BanFilter())
    # A second service over the same database (a restart) knows them.
    reloaded = BanService(storage.bans)
    await reloaded.load()
    assert reloaded.banned("t1", Candidate("x", ("device_9",), None)) is not None
    await service.delete(T1, BanKind.USERNAME_RE, "^device_")
    with pytest.raises(NotFound):
        await service.delete(T1, BanKind.USERNAME_RE, "^device_")
    await service.clear(T1)
    assert not service.any and service.banned("t1", device) is None
