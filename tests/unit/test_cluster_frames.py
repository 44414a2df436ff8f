"""What cluster routing builds on, without servers: the frames MQTT messages cross nodes in
(cluster/frames.py) and the subscription trie telling which filters a node is interested in."""

from __future__ import annotations

from tether.broker.message import Message
from tether.broker.subscriptions import Subscription, SubscriptionTrie
from tether.cluster.frames import (
    CONFIRM,
    COPIES,
    PLAIN_FLAGS,
    decode_batch,
    encode_frame,
    encode_header,
    pack_plain_head,
)
from tether.mqtt.properties import Properties


def test_a_batch_of_frames_round_trips() -> None:
    props = Properties(content_type="text/plain", user_properties=(("k", "v"),), response_topic="r/1")
    first = Message("$tenant/t1/a/b", b"\x00\xffbinary", 2, True, props, expires_at=100.0)
    second = Message("t/ü/+", memoryview(b""), 0)
    data = encode_header(CONFIRM, 42, "n1") + b"".join(
        [
            encode_frame(first, now=90.0, ordinary=False, groups=("$share/g/a/#", "$share/h/a/b"), version=7),
            encode_frame(second, now=90.0),
        ]
    )
    batch = decode_batch(data)
    assert (batch.kind, batch.batch_id, batch.node) == (CONFIRM, 42, "n1")
    one, two = batch.frames(now=1000.0)
    m = one.message
    assert (m.topic, bytes(m.payload), m.qos, m.retain, m.expires_at) == (
        "$tenant/t1/a/b",
        b"\x00\xffbinary",
        2,
        True,
        1010.0,  # the 10 s left, counted from the receiver's clock
    )
    assert m.properties.content_type == "text/plain" and m.properties.user_properties == (("k", "v"),)
    assert m.properties.response_topic == "r/1" and m.sender is None
    assert (one.ordinary, one.groups, one.version) == (False, frozenset({"$share/g/a/#", "$share/h/a/b"}), 7)
    assert (two.message.topic, bytes(two.message.payload), two.message.expires_at) == ("t/ü/+", b"", None)
    assert two.ordinary and not two.groups


def test_plain_copies_of_one_topic_come_in_runs_in_order() -> None:
    plain = [Message(topic, str(i).encode()) for i, topic in enumerate(["a", "a", "b", "a", "a", "a"])]
    other = [
        Message("a", b"q1", 1),
        Message("a", b"kept", 0, True),
        Message("a", b"props", 0, False, Properties(content_type="x")),
        Message("a", b"ttl", 0, expires_at=5.0),
    ]
    frames = [encode_frame(m, now=1.0) for m in plain[:3]] + [encode_frame(other[0], now=1.0)]
    frames += [encode_frame(m, now=1.0) for m in plain[3:5]] + [encode_frame(m, now=1.0) for m in other[1:]]
    frames += [
        encode_frame(plain[5], now=1.0),
        encode_frame(plain[5], now=1.0, ordinary=False, groups=("g",)),
    ]
    batch = decode_batch(encode_header(COPIES, 1, "n1") + b"".join(frames))
    runs = list(batch.runs(now=10.0))
    assert [item for item in runs if isinstance(item, tuple)] == [
        ("a", [b"0", b"1"]),
        ("b", [b"2"]),
        ("a", [b"3", b"4"]),
        ("a", [b"5"]),
    ]
    singles = [item for item in runs if not isinstance(item, tuple)]
    assert [bytes(f.message.payload) for f in singles] == [b"q1", b"kept", b"props", b"ttl", b"5"]
    assert singles[3].message.expires_at == 14.0 and singles[4].groups == frozenset({"g"})
    order = [
        payload
        for item in runs
        for payload in (item[1] if isinstance(item, tuple) else [item.message.payload])
    ]
    assert [bytes(p) for p in order] == [m.payload for m in plain[:3]] + [b"q1", b"3", b"4"] + [
        b"kept",
        b"props",
        b"ttl",
        b"5",
        b"5",
    ]
    assert [bytes(f.message.payload) for f in batch.frames(now=10.0)] == [bytes(p) for p in order]


def test_a_plain_copy_framed_by_its_parts_is_what_encode_frame_makes() -> None:
    for retain in (False, True):
        message = Message("$tenant/t1/ü/x", b"payload", 0, retain)
        head = pack_plain_head(PLAIN_FLAGS[retain], 0.0, 0, len(message.topic.encode()), 0, 0, 7)
        assert head + message.topic.encode() + b"payload" == encode_frame(message, now=3.0)


def test_the_trie_tells_when_a_filter_gains_its_first_and_loses_its_last_subscription() -> None:
    trie = SubscriptionTrie()
    told: list[tuple[str, bool]] = []
    trie.listener = lambda topic_filter, added: told.append((topic_filter, added))
    trie.add(Subscription("c1", "a/+", 1))
    trie.add(Subscription("c2", "a/+", 0))
    trie.add(Subscription("c1", "a/+", 2))  # replaced: nothing new
    trie.add(Subscription("c1", "$share/g/a/+", 1, share_name="g"))
    trie.add(Subscription("c2", "$share/g/a/+", 1, share_name="g"))
    assert told == [("a/+", True), ("$share/g/a/+", True)]
    assert sorted(trie.filters()) == ["$share/g/a/+", "a/+"]
    trie.remove("c1", "a/+")
    trie.remove("c1", "$share/g/a/+")
    assert told[2:] == []
    trie.remove("c2", "a/+")
    trie.remove("c2", "$share/g/a/+")
    trie.remove("c2", "a/+")  # not there: nothing
    assert told[2:] == [("a/+", False), ("$share/g/a/+", False)]
    assert list(trie.filters()) == []
    # Filters without wildcards live beside the trie (one dict entry each): told alike.
    del told[:]
    trie.add(Subscription("c1", "s/ds", 1))
    trie.add(Subscription("c2", "s/ds", 1))
    trie.add(Subscription("c3", "s/ds", 0))
    assert told == [("s/ds", True)] and list(trie.filters()) == ["s/ds"]
    trie.remove("c1", "s/ds")
    trie.remove("c3", "s/ds")
    assert told == [("s/ds", True)]
    trie.remove("c2", "s/ds")
    assert told == [("s/ds", True), ("s/ds", False)] and list(trie.filters()) == []
