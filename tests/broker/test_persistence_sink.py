"""Persistence on its own: driven through the StateSink events the broker sends, over an in-memory store,
and read back with restore(). No broker, no server, no socket: the sessions and retained messages are the
live structures a checkpoint reads."""

from __future__ import annotations

import asyncio
import time

import pytest

from tether.broker.inflight import Delivery
from tether.broker.message import Message
from tether.broker.persistence import Persistence, Restored
from tether.broker.ports import Durability
from tether.broker.retained import RetainedStore
from tether.broker.sessions import Session, SessionRegistry
from tether.broker.storage import MemoryBrokerStore, SessionChange, SessionHeader
from tether.broker.subscriptions import Subscription
from tether.broker.will import PendingWill

pytestmark = pytest.mark.anyio

MAX_QUEUED = 100


class State:
    """The live state a broker keeps, and the Persistence that saves it, as the broker wires them."""

    def __init__(self, store: MemoryBrokerStore) -> None:
        self.loop = asyncio.get_running_loop()
        self.sessions = SessionRegistry(self.loop, self._ended)
        self.retained = RetainedStore()
        self.persistence = Persistence(store, 3600, self.loop, self.sessions, self.retained)
        # The broker knows its persistence only as a Durability (a StateSink that commits).
        self.sink: Durability = self.persistence

    def _ended(self, session: Session) -> None:
        self.sink.session_ended(session.client_id)

    def offline_session(self, client_id: str, *filters: str) -> Session:
        session, _ = self.sessions.open(client_id, False, MAX_QUEUED)
        session.expiry_interval = 300
        for topic_filter in filters:
            session.add_subscription(Subscription(client_id, topic_filter, 1))
        self.sink.subscriptions_changed(session)
        self.sessions.detached(session)
        self.sink.session_offline(session)
        return session

    def queue(self, session: Session, topic: str, payload: bytes) -> Delivery:
        delivery = Delivery(Message(topic, payload, 1, False), 1, False)
        assert session.outbox.enqueue(delivery)
        self.sink.delivery_queued(session)
        return delivery

    def retain(self, topic: str, payload: bytes) -> None:
        assert self.retained.set(Message(topic, payload, 1, True))
        self.sink.retained_changed(topic)


async def restore(store: MemoryBrokerStore, wills: list[Message] | None = None) -> Restored:
    state = State(store)
    return await state.persistence.restore(MAX_QUEUED, (wills if wills is not None else []).append)


def queued(session: Session) -> list[bytes]:
    return [bytes(d.message.payload) for d in session.outbox.queue]


async def test_restore_returns_what_the_sink_was_told() -> None:
    store = MemoryBrokerStore()
    state = State(store)
    session = state.offline_session("dev-1", "cmd/#", "cfg/+")
    state.queue(session, "cmd/a", b"one")
    state.queue(session, "cmd/b", b"two")
    state.retain("status/dev-1", b"up")
    await state.sink.commit_soon()

    restored = await restore(store)
    assert [(s.client_id, sorted(s.subscriptions), queued(s)) for s, _ in restored.sessions] == [
        ("dev-1", ["cfg/+", "cmd/#"], [b"one", b"two"])
    ]
    remaining = restored.sessions[0][1]
    assert remaining is not None and 0 < remaining <= 300
    retained = [(m.topic, bytes(m.payload), m.retain) for m in restored.retained]
    assert retained == [("status/dev-1", b"up", True)]
    assert restored.wills == []


async def test_acknowledged_and_ended_state_is_not_restored() -> None:
    store = MemoryBrokerStore()
    state = State(store)
    kept = state.offline_session("kept", "t")
    first = state.queue(kept, "t", b"acked")
    state.queue(kept, "t", b"still queued")
    gone = state.offline_session("gone", "t")
    state.retain("r", b"old")
    await state.sink.commit_soon()

    # The client took the first message and acknowledged it; the other session ended; the retained
    # message was deleted (an empty retained payload).
    kept.outbox.queue.remove(first)
    state.sink.delivery_acked(kept)
    state.sessions.end(gone)
    assert state.retained.set(Message("r", b"", 1, True))
    state.sink.retained_changed("r")
    await state.sink.commit_soon()

    restored = await restore(store)
    assert [(s.client_id, queued(s)) for s, _ in restored.sessions] == [("kept", [b"still queued"])]
    assert restored.retained == []


async def test_wills_come_back_pending_or_to_publish() -> None:
    store = MemoryBrokerStore()
    state = State(store)
    fired: list[Message] = []
    delayed = state.offline_session("delayed")
    will = Message("will/delayed", b"bye", 1, False)
    delayed.pending_will = PendingWill(state.loop, will, 3600, fired.append)
    state.sink.session_offline(delayed)
    expired = state.offline_session("expired")
    expired.expiry_interval = 1
    expired.disconnected_at -= 10  # its expiry passed while the broker was down
    will = Message("will/expired", b"gone", 0, False)
    expired.pending_will = PendingWill(state.loop, will, 3600, fired.append)
    state.sink.session_offline(expired)
    await state.sink.commit_soon()
    for session in (delayed, expired):
        assert session.pending_will is not None
        session.pending_will.cancel()
    assert fired == []

    published: list[Message] = []
    restored = await restore(store, published)
    assert [s.client_id for s, _ in restored.sessions] == ["delayed"]
    pending = restored.sessions[0][0].pending_will
    assert pending is not None and pending.pending and pending.message.topic == "will/delayed"
    pending.cancel()
    assert [(m.topic, bytes(m.payload)) for m in restored.wills] == [("will/expired", b"gone")]
    assert published == []  # the broker publishes them when it installs the restored state


async def test_a_session_saved_online_and_one_handed_over() -> None:
    store = MemoryBrokerStore()
    state = State(store)
    online, _ = state.sessions.open("online", False, MAX_QUEUED)
    online.expiry_interval = 60
    online.owner = object()  # type: ignore[assignment]  # its connection
    state.sink.subscriptions_changed(online)
    await state.sink.commit_soon()
    record = store.sessions["online"]
    assert record.online is True
    # Saved long ago while its client was connected: a restart counts its expiry from that save; a node
    # adopting it from a node that died, from the death (cluster, docs/cluster.md).
    header = SessionHeader(60, record.disconnected_at - 100, online=True)
    await store.save([SessionChange("online", header=header)], [], [], [])
    assert (await restore(store)).sessions == []
    adopted = await State(store).persistence.restore(MAX_QUEUED, print, ["online"], time.time())
    assert [(s.client_id, 55 < (left or 0) <= 60) for s, left in adopted.sessions] == [("online", True)]

    # Handed over: saved one last time through `give`, its delayed will stopped, then forgotten here.
    leaving = state.offline_session("leaving", "t")
    state.queue(leaving, "t", b"queued")
    leaving.pending_will = PendingWill(state.loop, Message("w", b"bye", 0, False), 3600, print)
    state.sessions.release(leaving)
    given: list[SessionChange | None] = []

    async def give(change: SessionChange | None) -> bool:
        given.append(change)
        return True

    async with state.persistence.paused():
        assert await state.persistence.hand_over(leaving, give) is True
    (change,) = given
    assert (
        change is not None
        and change.replace
        and [bytes(d.message.payload) for d in change.added] == [b"queued"]
    )
    assert change.header is not None and change.header.will is not None
    assert leaving.pending_will.pending  # suspended, not fired: it travels with the session
    await state.persistence.checkpoint(everything=True)
    assert "leaving" not in store.sessions  # never saved here, nor deleted by this node


async def test_a_delayed_will_once_published_is_saved_as_gone() -> None:
    store = MemoryBrokerStore()
    state = State(store)
    session = state.offline_session("dev")
    fired: list[Message] = []
    publish = state.persistence.will_publisher(session, fired.append)
    session.pending_will = PendingWill(state.loop, Message("will/dev", b"bye", 1, False), 3600, publish)
    await state.sink.commit_soon()
    assert store.sessions["dev"].will is not None
    session.pending_will.fire()  # its delay passed
    await state.sink.commit_soon()
    # A restart, or a cluster node adopting the session, does not publish it again.
    assert [m.topic for m in fired] == ["will/dev"] and store.sessions["dev"].will is None
