"""The MQTT broker's SQL store (SqlBrokerStore), run against SQLite and PostgreSQL (`storage` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from tether.broker.storage import (
    DeliveryRecord,
    MessageRecord,
    SessionChange,
    SessionHeader,
    SessionRecord,
    SubscriptionRecord,
)
from tether.mqtt.constants import PacketType
from tether.mqtt.properties import Properties, encode_properties
from tether.storage.sql.storage import SqlStorage

pytestmark = pytest.mark.anyio

PROPS = encode_properties(
    Properties(
        payload_format_indicator=1,
        content_type="application/json",
        response_topic="reply/here",
        correlation_data=b"\x00\x01corr\xff",
        user_properties=(("k", "v"), ("k", "w")),
    ),
    PacketType.PUBLISH,
)
BINARY = bytes(range(256))  # NUL, high bytes, invalid UTF-8: stored as bytes


def message(topic: str, payload: bytes = b"p", **kw: object) -> MessageRecord:
    return MessageRecord(topic, payload, **{"qos": 1, "retain": False, **kw})  # type: ignore[arg-type]


def full_session(client_id: str = "$tenant/t1/dev-1") -> SessionRecord:
    shared = message("a/b", BINARY, qos=2, properties=PROPS, expires_at=1_900_000_000.125)
    return SessionRecord(
        client_id=client_id,
        expiry_interval=0xFFFF_FFFF,
        disconnected_at=1_750_000_000.123456,
        subscriptions=(
            SubscriptionRecord("a/+", 2, True, True, 2, 268_435_455),
            SubscriptionRecord("$share/g/a/#", 1, False, False, 1, None),
            SubscriptionRecord("ä/ö/#", 0),
        ),
        inflight=(
            DeliveryRecord(shared, 2, True, (7, 268_435_455), packet_id=65_535, state=3, seq=3),
            DeliveryRecord(message("a/c", qos=1), 1, False, (), packet_id=1, state=1, seq=5),
            DeliveryRecord(message("a/d", qos=2), 2, False, (7,), packet_id=2, state=2, seq=6),
        ),
        queued=(
            DeliveryRecord(shared, 1, False, (7,), seq=9),
            DeliveryRecord(message("a/e", b"", qos=0), 0, False, seq=10),
        ),
        awaiting_rel=(1, 300, 65_535),
        will=MessageRecord("will/topic", b"\x00gone", 1, True, PROPS, 1_900_000_001.5),
        will_at=1_750_000_060.25,
        online=True,
    )


async def sessions_of(storage: SqlStorage) -> dict[str, SessionRecord]:
    return {s.client_id: s for s in (await storage.broker_state.load()).sessions}


async def test_an_empty_store_loads_nothing(storage: SqlStorage) -> None:
    state = await storage.broker_state.load()
    assert (state.sessions, state.retained) == ([], [])


async def test_every_field_of_a_session_survives(storage: SqlStorage) -> None:
    record = full_session()
    minimal = SessionRecord("plain", 60, 1.5)
    await storage.broker_state.save([SessionChange.whole(record), SessionChange.whole(minimal)], [], [], [])
    loaded = await sessions_of(storage)
    assert loaded == {record.client_id: record, "plain": minimal}
    got = loaded[record.client_id]
    assert isinstance(got.inflight[0].message.payload, bytes) and got.inflight[0].message.payload == BINARY
    assert got.will is not None and got.will.properties == PROPS


async def test_changes_add_update_and_remove_deliveries(storage: SqlStorage) -> None:
    store = storage.broker_state
    record = full_session()
    await store.save([SessionChange.whole(record)], [], [], [])
    new = DeliveryRecord(message("a/new", b"n"), 1, False, (), seq=11)
    await store.save(
        [
            SessionChange(
                record.client_id,
                # PUBREC arrived for seq 6; seq 5 was acknowledged; seq 9 went in flight.
                updated=((6, 2, 3), (9, 3, 1)),
                removed=(5,),
                added=(new,),
            )
        ],
        [],
        [],
        [],
    )
    got = (await sessions_of(storage))[record.client_id]
    assert [(d.seq, d.packet_id, d.state) for d in got.inflight] == [(3, 65_535, 3), (6, 2, 3), (9, 3, 1)]
    assert [d.seq for d in got.queued] == [10, 11] and got.queued[1] == new
    # Header and subscriptions were not part of the change: unchanged.
    assert got.header == record.header and got.subscriptions == record.subscriptions


async def test_header_and_subscriptions_change_alone(storage: SqlStorage) -> None:
    store = storage.broker_state
    record = full_session()
    await store.save([SessionChange.whole(record)], [], [], [])
    header = SessionHeader(300, 1_760_000_000.5)  # the will was cancelled, the QoS 2 ids released
    subs = (SubscriptionRecord("x/#", 1, identifier=3),)
    await store.save([SessionChange(record.client_id, header=header, subscriptions=subs)], [], [], [])
    got = (await sessions_of(storage))[record.client_id]
    assert got.header == header and got.subscriptions == subs
    assert (got.will, got.will_at, got.awaiting_rel) == (None, None, ())
    assert got.inflight == record.inflight and got.queued == record.queued


async def test_deleted_sessions_leave_nothing_behind(storage: SqlStorage) -> None:
    store = storage.broker_state
    await store.save(
        [SessionChange.whole(full_session("a")), SessionChange.whole(full_session("b"))], [], [], []
    )
    await store.save([], ["a", "unknown"], [], [])
    assert set(await sessions_of(storage)) == {"b"}
    # A new session under the same client id starts empty: no subscription or delivery of the old one.
    await store.save([SessionChange.whole(SessionRecord("a", 10, 2.0))], [], [], [])
    assert (await sessions_of(storage))["a"] == SessionRecord("a", 10, 2.0)


async def test_replacing_a_session_forgets_the_old_one(storage: SqlStorage) -> None:
    store = storage.broker_state
    await store.save([SessionChange.whole(full_session("c"))], [], [], [])
    fresh = SessionRecord(
        "c",
        30,
        3.0,
        subscriptions=(SubscriptionRecord("only/this", 1),),
        queued=(DeliveryRecord(message("only/this"), 1, False, seq=1),),
    )
    # Ended and begun again within one checkpoint: deleted, then stored whole.
    await store.save([SessionChange.whole(fresh)], ["c"], [], [])
    assert (await sessions_of(storage))["c"] == fresh
    await store.save([SessionChange.whole(full_session("c"))], [], [], [])
    assert (await sessions_of(storage))["c"] == full_session("c")


async def test_retained_messages_are_set_replaced_and_cleared(storage: SqlStorage) -> None:
    store = storage.broker_state
    first = MessageRecord("r/1", BINARY, 2, True, PROPS, 1_900_000_000.0)
    other = MessageRecord("r/2", b"two", 0, True)
    await store.save([], [], [first, other], [])
    assert sorted((await store.load()).retained, key=lambda m: m.topic) == [first, other]
    second = MessageRecord("r/1", b"again", 1, True)
    await store.save([], [], [second], ["r/2", "r/never"])
    assert (await store.load()).retained == [second]
    await store.save([], [], [], ["r/1"])
    assert (await store.load()).retained == []


async def test_a_batch_is_applied_whole_or_not_at_all(storage: SqlStorage) -> None:
    store = storage.broker_state
    kept = full_session("kept")
    await store.save([SessionChange.whole(kept)], [], [message("r/old", retain=True)], [])
    before = await store.load()
    duplicate = DeliveryRecord(message("x"), 1, False, seq=9)  # seq 9 is already stored
    with pytest.raises(IntegrityError):
        await store.save(
            [
                SessionChange.whole(SessionRecord("new", 10, 1.0)),
                SessionChange("kept", header=SessionHeader(1, 1.0), added=(duplicate,)),
            ],
            ["kept-too"],
            [message("r/new", retain=True)],
            ["r/old"],
        )
    after = await store.load()
    assert after.sessions == before.sessions and after.retained == before.retained
    # The store still works after the failed batch.
    await store.save([], ["kept"], [], ["r/old"])
    assert await sessions_of(storage) == {}


async def test_a_large_batch(storage: SqlStorage) -> None:
    store = storage.broker_state
    queue = tuple(
        DeliveryRecord(message(f"q/{i}", bytes([i % 256]) * 64), 1, False, seq=i + 1) for i in range(3000)
    )
    sessions = [
        SessionChange.whole(SessionRecord(f"s{i}", 60, 1.0, queued=queue if i == 0 else ()))
        for i in range(500)
    ]
    retained = [MessageRecord(f"r/{i}", b"x", 0, True) for i in range(2000)]
    await store.save(sessions, [], retained, [])
    state = await store.load()
    assert len(state.sessions) == 500 and len(state.retained) == 2000
    assert next(s for s in state.sessions if s.client_id == "s0").queued == queue
