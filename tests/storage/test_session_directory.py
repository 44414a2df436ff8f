"""The MQTT session rows of a cluster (SqlBrokerStore with a node; PostgreSQL only, as a cluster is): each
node loads its own, gives one to another node, adopts those of a node that is gone, claims one of no node,
and its saves leave alone the rows another node holds (docs/cluster.md, "Sessions across nodes")."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support import PG_URL_VARIABLE, fresh_database

from tether.bootstrap import open_storage
from tether.broker.storage import DeliveryRecord, MessageRecord, SessionChange, SessionHeader, SessionRecord
from tether.storage.sql.broker_state import SqlBrokerStore
from tether.storage.sql.storage import SqlStorage

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.environ.get(PG_URL_VARIABLE), reason=f"{PG_URL_VARIABLE} not set"),
]


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqlStorage]:
    store = open_storage(await fresh_database("postgresql", tmp_path))
    await store.open()
    yield store
    await store.close()


def node_store(storage: SqlStorage, node: str | None) -> SqlBrokerStore:
    store = SqlBrokerStore(storage.database)
    store.node = node
    return store


def delivery(seq: int) -> DeliveryRecord:
    return DeliveryRecord(MessageRecord(f"q/{seq}", b"p", 1, False), 1, False, seq=seq)


async def ids(store: SqlBrokerStore) -> list[str]:
    return [s.client_id for s in (await store.load()).sessions]


async def test_sessions_move_between_nodes_and_a_node_saves_only_its_own(storage: SqlStorage) -> None:
    n1, n2 = node_store(storage, "n1"), node_store(storage, "n2")
    lost: list[str] = []
    n1.on_lost = lost.extend
    await n1.save(
        [SessionChange.whole(SessionRecord(k, 60, 1.0, queued=(delivery(1),))) for k in "abc"], [], [], []
    )
    assert await ids(n1) == ["a", "b", "c"] and await ids(n2) == []
    assert await n2.holder("a") == "n1" and await n2.holder("zz") is None

    # n1 gives "a" to n2 with its last change, in one transaction; n2 loads it.
    last = SessionChange("a", header=SessionHeader(60, 2.0), added=(delivery(2),))
    assert await n1.hand_over("a", last, "n2") is True
    (moved,) = (await n2.load(["a"])).sessions
    assert [d.seq for d in moved.queued] == [1, 2] and moved.disconnected_at == 2.0
    assert await n1.hand_over("a", None, "n3") is False  # no longer n1's to give
    # A late save by n1 of "a" (a change, a replacement, a deletion) leaves n2's row alone.
    await n1.save(
        [SessionChange("a", added=(delivery(3),)), SessionChange.whole(SessionRecord("a", 5, 9.0))],
        ["a"],
        [],
        [],
    )
    assert lost == ["a"]
    (kept,) = (await n2.load(["a"])).sessions
    assert [d.seq for d in kept.queued] == [1, 2] and kept.expiry_interval == 60

    # n1 is gone: one adoption gets each of its sessions, a second finds none left.
    assert sorted(await n2.adopt(["n1"])) == ["b", "c"]
    assert await node_store(storage, "n3").adopt(["n1"]) == []
    assert await ids(n2) == ["a", "b", "c"] and await ids(n1) == []

    # A row saved without a cluster (no node) is claimed once, or adopted as an orphan.
    plain = node_store(storage, None)
    await plain.save([SessionChange.whole(SessionRecord(k, 60, 1.0)) for k in ("d", "e")], [], [], [])
    assert await n2.holder("d") == ""
    assert await n1.claim("d", "") is True and await n2.claim("d", "") is False
    assert sorted(await n2.nodes()) == ["", "n1", "n2"]
    assert await n2.adopt([], orphans=True) == ["e"]
    assert await ids(n1) == ["d"]
