"""Persistence checkpoints: incremental saves (only what changed) and Persistence.commit_soon.

The broker runs in-process here (no listeners): sessions are opened, detached and routed to as the client
connections do; the store records every batch it is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from tether.broker import Broker, BrokerConfig, Message
from tether.broker.inflight import AWAIT_PUBCOMP
from tether.broker.persistence import Persistence
from tether.broker.sessions import Session
from tether.broker.storage import MemoryBrokerStore, MessageRecord, SessionChange
from tether.broker.subscriptions import Subscription

pytestmark = pytest.mark.anyio


class RecordingStore(MemoryBrokerStore):
    """Keeps every batch; ``gate`` (when set) holds each save until released; ``fail`` makes saves raise."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[list[SessionChange], list[str], list[MessageRecord], list[str]]] = []
        self.gate: asyncio.Event | None = None
        self.saving = asyncio.Event()
        self.fail: Exception | None = None

    async def save(
        self,
        sessions: Sequence[SessionChange],
        deleted_sessions: Sequence[str],
        retained: Sequence[MessageRecord],
        deleted_retained: Sequence[str],
    ) -> None:
        self.saving.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        self.batches.append((list(sessions), list(deleted_sessions), list(retained), list(deleted_retained)))
        await super().save(sessions, deleted_sessions, retained, deleted_retained)


async def start(store: RecordingStore, **config: Any) -> tuple[Broker, Persistence]:
    broker = Broker(BrokerConfig(**{"persist_interval": 3600, **config}), store=store)
    await broker.start()
    assert broker.persistence is not None
    return broker, broker.persistence


@pytest.fixture
async def store() -> AsyncIterator[RecordingStore]:
    yield RecordingStore()


def offline_session(broker: Broker, client_id: str, *filters: str) -> Session:
    """A persistent session that subscribed (QoS 2) and went offline, as a client connection leaves it."""
    session, _ = broker.sessions.open(client_id, False, broker.config.max_queued_messages)
    session.expiry_interval = 300
    for topic_filter in filters:
        broker.subscribe(session, Subscription(client_id, topic_filter, 2))
    broker.sessions.detached(session)
    assert broker.persistence is not None
    broker.persistence.session_changed(session)
    return session


def publish(broker: Broker, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
    """Route a message as a client's PUBLISH is routed (retained first with ``retain``)."""
    return broker.route(Message(topic, payload, qos, retain, sender="publisher")).matched


def assert_stored_as_live(broker: Broker, store: MemoryBrokerStore) -> None:
    """What the store holds is what the broker has: sessions, their deliveries (with flow state), retained."""
    live = {
        s.client_id: (
            [(bytes(d.message.payload), d.qos, d.packet_id, d.state) for d in s.outbox.inflight.values()],
            [(bytes(d.message.payload), d.qos, d.packet_id, d.state) for d in s.outbox.queue],
            sorted(s.subscriptions),
        )
        for s in broker.sessions
        if s.expiry_interval
    }
    saved = {
        cid: (
            [(d.message.payload, d.qos, d.packet_id, d.state) for d in r.inflight],
            [(d.message.payload, d.qos, d.packet_id, d.state) for d in r.queued],
            sorted(s.topic_filter for s in r.subscriptions),
        )
        for cid, r in store.sessions.items()
    }
    assert saved == live
    assert {m.topic: m.payload for m in store.retained.values()} == {
        m.topic: bytes(m.payload) for m in broker.retained.messages()
    }


async def test_a_checkpoint_saves_only_what_changed(store: RecordingStore) -> None:
    broker, persistence = await start(store)
    a = offline_session(broker, "a", "a/#")
    offline_session(broker, "b", "b/#")
    await persistence.commit_soon()
    first = store.batches[-1][0]
    assert sorted(c.client_id for c in first) == ["a", "b"] and all(c.replace for c in first)

    assert not persistence.pending
    assert publish(broker, "a/1", b"m1") == 1
    assert persistence.pending  # queued for an offline persistent session
    await persistence.commit_soon()
    assert not persistence.pending
    (change,), deleted, retained, deleted_retained = store.batches[-1]
    assert (change.client_id, change.replace, change.header, change.subscriptions) == ("a", False, None, None)
    assert [(d.message.payload, d.seq) for d in change.added] == [(b"m1", 1)]
    assert (change.updated, change.removed, deleted, retained, deleted_retained) == ((), (), [], [], [])

    # A long queue: each checkpoint still carries one delivery.
    for i in range(2, 502):
        publish(broker, "a/1", b"m%d" % i)
        await persistence.commit_soon()
        (change,), *_ = store.batches[-1]
        assert [d.seq for d in change.added] == [i] and change.header is None
    assert len(a.outbox.queue) == 501

    publish(broker, "r/1", b"kept", retain=True)  # nobody subscribed: only the retained topic changes
    await persistence.commit_soon()
    assert store.batches[-1][0] == [] and [m.topic for m in store.batches[-1][2]] == ["r/1"]
    publish(broker, "r/1", b"", retain=True)
    await persistence.commit_soon()
    assert store.batches[-1][2:] == ([], ["r/1"])

    batches = len(store.batches)
    publish(broker, "b-none/1", b"to nobody")
    assert not persistence.pending  # nothing to save: the acknowledgement need not wait
    await persistence.commit_soon()  # nothing changed: nothing saved
    assert len(store.batches) == batches
    assert_stored_as_live(broker, store)
    await broker.stop()
    assert len(store.batches) == batches  # offline sessions unchanged: the final checkpoint has nothing to do


async def test_flows_of_a_returning_client_are_saved_as_updates_and_removals(store: RecordingStore) -> None:
    broker, persistence = await start(store)
    session = offline_session(broker, "c", "c/#")
    for i in range(5):
        publish(broker, "c/x", b"%d" % i, qos=2)
    await persistence.commit_soon()
    # The client is back: two messages go in flight, the first is acknowledged (PUBACK) and the second
    # advances to PUBREL; then it leaves again.
    outbox = session.outbox
    first, second = outbox.queue.popleft(), outbox.queue.popleft()
    outbox.allocate(first)
    outbox.allocate(second)
    outbox.release(first.packet_id)
    second.state = AWAIT_PUBCOMP
    broker.sessions.detached(session)
    persistence.session_changed(session)
    await persistence.commit_soon()
    (change,), *_ = store.batches[-1]
    assert not change.replace and change.added == ()
    assert change.removed == (1,) and change.updated == ((2, second.packet_id, AWAIT_PUBCOMP),)
    assert change.header is not None  # disconnected_at moved
    assert_stored_as_live(broker, store)

    # Restarted: the same state, and the next message is again one new delivery after the restored ones.
    await broker.stop()
    broker, persistence = await start(store)
    publish(broker, "c/x", b"after", qos=1)
    await persistence.commit_soon()
    (change,), *_ = store.batches[-1]
    assert not change.replace and [(d.seq, d.qos) for d in change.added] == [(6, 1)]
    assert_stored_as_live(broker, store)
    await broker.stop()


async def test_commit_soon_starts_a_checkpoint_at_once_and_coalesces(store: RecordingStore) -> None:
    broker, persistence = await start(store)  # the interval is an hour: only commit_soon saves
    offline_session(broker, "d", "d/#")
    store.gate = gate = asyncio.Event()
    publish(broker, "d/1", b"1")
    first = persistence.commit_soon()
    await store.saving.wait()  # the first checkpoint is saving; requests made now need the next one
    store.saving.clear()
    publish(broker, "d/1", b"2")
    second = persistence.commit_soon()
    publish(broker, "d/1", b"3")
    third = persistence.commit_soon()
    store.gate = next_gate = asyncio.Event()  # holds the next save
    gate.set()
    await first
    await store.saving.wait()  # the next checkpoint started at once, without waiting for the interval
    assert not second.done() and not third.done()
    assert [d.message.payload for d in store.batches[-1][0][0].added] == [b"1"]
    next_gate.set()
    await asyncio.gather(second, third)
    assert len(store.batches) == 2  # one checkpoint answered both
    assert [d.message.payload for d in store.batches[-1][0][0].added] == [b"2", b"3"]
    await broker.stop()


async def test_a_failed_save_reaches_the_waiters_and_is_retried_whole(store: RecordingStore) -> None:
    broker, persistence = await start(store)
    offline_session(broker, "e", "e/#")
    await persistence.commit_soon()
    store.fail = OSError("disk full")
    publish(broker, "e/1", b"lost?")
    with pytest.raises(OSError, match="disk full"):
        await persistence.commit_soon()
    store.fail = None
    publish(broker, "e/1", b"next")
    await persistence.commit_soon()
    (change,), *_ = store.batches[-1]
    # What the store got of the failed batch is unknown: the session is stored anew, nothing is lost.
    assert change.replace and [d.message.payload for d in change.added] == [b"lost?", b"next"]
    assert_stored_as_live(broker, store)
    await broker.stop()


async def test_ended_sessions_are_deleted_and_a_new_one_stored_whole(store: RecordingStore) -> None:
    broker, persistence = await start(store)
    old = offline_session(broker, "f", "f/#")
    publish(broker, "f/1", b"old")
    await persistence.commit_soon()
    broker.sessions.end(old)  # e.g. Clean Start, or the expiry interval passed
    offline_session(broker, "f", "g/#")
    publish(broker, "g/1", b"new")
    await persistence.commit_soon()
    changes, deleted, *_ = store.batches[-1]
    assert deleted == ["f"] and [c.replace for c in changes] == [True]
    assert [d.message.payload for d in store.sessions["f"].queued] == [b"new"]
    await broker.stop()


async def test_commit_soon_after_stop_still_saves(store: RecordingStore) -> None:
    broker, persistence = await start(store)
    await broker.stop()
    publish(broker, "h/1", b"late", retain=True)
    await persistence.commit_soon()
    assert store.retained["h/1"].payload == b"late"
