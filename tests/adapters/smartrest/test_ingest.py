"""The batched ingest path: MeasurementService.create_many (one write, the driver directly) and the ingest
batcher (many messages per write; a deleted source fails alone), on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.support import ServerThread

from tether.adapters.smartrest.ingest import IngestBatcher
from tether.core.errors import InvalidInput, NotFound
from tether.core.paging import PageRequest
from tether.core.processing import ProcessingMode
from tether.inventory.models import NewManagedObject
from tether.telemetry.measurements import IngestRow, SourceGrant
from tether.telemetry.models import MeasurementCriteria
from tether.tenants.models import Principal, Role

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))


async def _devices(platform: Any, count: int) -> list[int]:
    return [
        (
            await platform.services.inventory.create(
                ADMIN, NewManagedObject(None, f"d{i}", None, {"c8y_IsDevice": {}})
            )
        ).id
        for i in range(count)
    ]


def _row(grant: SourceGrant, i: int) -> IngestRow:
    return (grant, "c8y_T", 1_700_000_000_000 + i, {"c8y_T": {"T": {"value": i, "unit": "C"}}})


def test_create_many_stores_rows_of_many_sources_with_their_ids(server: ServerThread) -> None:
    platform = server.platform
    service = platform.services.measurements

    async def run() -> None:
        sources = await _devices(platform, 3)
        grants = {s: await service.grant(ADMIN, s) for s in sources}
        # Sizes around the fixed statement sizes of the SQLite path (64, 512, 2048).
        for count in (1, 64, 65, 600, 2100):
            rows = [_row(grants[sources[i % 3]], i) for i in range(count)]
            ids = await service.create_many(rows)
            assert len(set(ids)) == count
            for index in (0, count - 1):
                measurement_id = ids[index]
                assert measurement_id is not None
                stored = await service.get(ADMIN, measurement_id)
                grant, _, time, fragments = rows[index]
                assert (stored.source_id, stored.time, stored.fragments) == (grant.source_id, time, fragments)
        page = await service.find(
            ADMIN, MeasurementCriteria(source_id=sources[0]), PageRequest(with_total=True)
        )
        assert page.total_elements == sum(len(range(0, c, 3)) for c in (1, 64, 65, 600, 2100))

    server.call(run())


def test_create_many_refuses_forged_grants(server: ServerThread) -> None:
    platform = server.platform
    service = platform.services.measurements

    async def run() -> None:
        (first,) = await _devices(platform, 1)
        grant = await service.grant(ADMIN, first)
        forged = SourceGrant("t1", first, object())
        with pytest.raises(InvalidInput):
            await service.create_many([_row(grant, 0), _row(forged, 1)])
        device = Principal("t1", "device_nobody", frozenset({Role.DEVICE}))
        with pytest.raises(NotFound):
            await service.grant(device, first)  # not the device user's object

    server.call(run())


def test_batcher_writes_many_messages_once_and_isolates_a_deleted_source(server: ServerThread) -> None:
    platform = server.platform
    service = platform.services.measurements
    gone: list[tuple[Any, str]] = []

    async def run() -> None:
        kept, doomed = await _devices(platform, 2)
        grants = {s: await service.grant(ADMIN, s) for s in (kept, doomed)}
        batcher = IngestBatcher(service, on_gone=lambda owner, text: gone.append((owner, text)), max_rows=50)
        # 30 messages of 3 rows arrive in one loop turn: at most 50 rows per write, whole messages.
        futures = [
            batcher.add([_row(grants[kept], 3 * m + k) for k in range(3)], ProcessingMode.PERSISTENT, m)
            for m in range(30)
        ]
        assert await asyncio.gather(*futures) == [None] * 30
        assert batcher.rows_written == 90 and batcher.writes == 2  # 48 + 42 rows
        await platform.services.inventory.delete(ADMIN, doomed)
        mixed = [
            batcher.add([_row(grants[kept], 100)], ProcessingMode.PERSISTENT, "a"),
            batcher.add([_row(grants[doomed], 101)], ProcessingMode.PERSISTENT, "b"),
            batcher.add([_row(grants[kept], 102)], ProcessingMode.PERSISTENT, "c"),
        ]
        results = await asyncio.gather(*mixed)
        assert results[0] is None and results[2] is None
        assert gone == [("b", "The device no longer exists")]
        page = await service.find(ADMIN, MeasurementCriteria(source_id=kept), PageRequest(with_total=True))
        assert page.total_elements == 92

    server.call(run())
