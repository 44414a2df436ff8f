"""The connection history store on SQLite and PostgreSQL: batches larger than one statement, rows inserted
closed, closes of earlier rows, paging newest first, and the bulk ids lookup of external ids."""

from __future__ import annotations

import pytest

from tether.core.paging import PageRequest
from tether.identity.models import ExternalId
from tether.inventory.models import NewManagedObject
from tether.presence.models import ConnectionRecord, HistoryCriteria
from tether.storage.sql.storage import SqlStorage

pytestmark = pytest.mark.anyio


def record(i: int, tenant: str = "t1", **changes: object) -> ConnectionRecord:
    base = ConnectionRecord(
        f"{i:032x}",
        tenant,
        f"client-{i % 7}",
        "t1/user",
        None,
        None,
        "127.0.0.1",
        5,
        i % 2 == 0,
        60,
        1_000 + i,
    )
    return ConnectionRecord(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


async def test_batches_of_any_size(storage: SqlStorage) -> None:
    store = storage.presence
    first = [record(i) for i in range(700)]  # more than the largest statement (512 rows)
    await store.record(first, [])
    # Closes of earlier rows, with new rows (one of them already closed) in the same write.
    closes = [(r.id, 5_000 + n, "normal") for n, r in enumerate(first[:600])]
    more = [record(700), record(701, disconnected_at=9_000, reason="kicked"), record(702, tenant="t2")]
    await store.record(more, closes)
    page = await store.find("t1", HistoryCriteria(client_id="client-0"), PageRequest(1, 200, True))
    assert page.total_elements == len([i for i in range(702) if i % 7 == 0])
    assert [r.connected_at for r in page.items] == sorted((r.connected_at for r in page.items), reverse=True)
    by_id = {r.id: r for r in page.items}
    assert by_id[first[0].id].disconnected_at == 5_000 and by_id[first[0].id].reason == "normal"
    assert by_id[first[693].id].disconnected_at is None  # not closed
    assert by_id[first[0].id].clean_start is True and by_id[first[7].id].clean_start is False
    closed = await store.find("t1", HistoryCriteria(client_id="client-1"), PageRequest(1, 1, True))
    assert closed.items[0].id == more[1].id and closed.items[0].reason == "kicked"
    other = await store.find("t2", HistoryCriteria(), PageRequest(1, 10, True))
    assert [r.id for r in other.items] == [more[2].id]


async def test_external_ids_resolved_together(storage: SqlStorage) -> None:
    mo = await storage.managed_objects.create(
        "t1", NewManagedObject("admin", "d", None, {"c8y_IsDevice": {}}), 1
    )
    await storage.external_ids.create("t1", ExternalId("c8y_Serial", "S-1", mo.id))
    found = await storage.external_ids.get_many(
        "t1", "c8y_Serial", ["S-1", "S-2", *[f"x{i}" for i in range(600)]]
    )
    assert found == {"S-1": mo.id}
    assert await storage.external_ids.get_many("t2", "c8y_Serial", ["S-1"]) == {}
