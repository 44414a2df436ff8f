"""MQTT across nodes: each message accepted on this node reaches the matching subscribers of every node
(docs/cluster.md, "MQTT across nodes").

- **Interest.** Every node announces on ``tether.mqtt.interest`` the topic filters its sessions subscribe
  to: when a filter gets its first subscription on the node or loses its last (batched per event-loop
  turn), and in full when it starts, when its NATS connection comes back, and when a node says hello on
  ``tether.mqtt.interest.hello``. A node keeps every node's filters, its own included, in a
  :class:`~tether.broker.subscriptions.SubscriptionTrie` whose "sessions" are node names; a node that
  leaves (membership) loses its filters.
- **Routing.** A message accepted here is delivered here as before (the taps, the rule engine among them,
  see it here only) and one copy goes to each other node with a matching filter, on
  ``tether.mqtt.route.<node>`` in one batch per node and event-loop turn. A copy is delivered there only:
  never routed again, never shown to that node's taps.
- **Shared subscriptions.** Each group ``$share/<name>/<filter>`` gets one copy in the cluster: this node
  picks one of the nodes with members (round robin), that node one of its members.
- **QoS 1 and 2.** A batch holding QoS 1/2 copies asks for a confirmation on ``tether.mqtt.ack.<sender>``,
  which the receiver sends once its copies are as durable as a local delivery would make them (the commit
  of a persistent session's queue). The publisher's PUBACK/PUBREC waits for it; if the node leaves or does
  not answer within :data:`CONFIRM_WAIT` seconds, the acknowledgement is refused (MQTT 5: 0x80; 3.1.1: the
  connection is closed unacknowledged) so that the publisher sends the message again.
- **Retained messages** are one store: a change accepted here is applied here (and saved by this node, as
  without a cluster) and sent to every node on ``tether.mqtt.retained`` with a version (a hybrid clock,
  ties broken by node name); a node applies a change only if it is newer than what it holds for the topic,
  so that every node ends with the same message when two nodes change one topic at once. A starting node
  loads the saved ones from the database, then applies the changes it heard meanwhile.
- **A SUBACK means the cluster knows.** Interest announcements are numbered; each node answers the ones it
  applied on ``tether.mqtt.interest.ack.<sender>``. A SUBACK waits (:meth:`Router.settled`, at most
  :data:`INTEREST_WAIT` seconds) until every live node has applied this node's filters as they are when the
  SUBSCRIBE was handled, so a message published anywhere after the SUBACK reaches the new subscription.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from tether.broker import Broker
from tether.broker.inflight import SavedOrDelivered
from tether.broker.message import Message
from tether.broker.ports import Routed
from tether.broker.subscriptions import SharedGroup, Subscription, SubscriptionTrie
from tether.mqtt.packets import Payload
from tether.mqtt.properties import EMPTY_PROPERTIES

from .bus import Msg, undo_all
from .copies import deliver_batch, no_group
from .frames import (
    CONFIRM,
    COPIES,
    PLAIN_FLAGS,
    decode_batch,
    encode_frame,
    encode_header,
    pack_plain_head,
)
from .membership import NodeInfo
from .node import ClusterNode
from .retained_versions import RETAINED_CHANGES, TOMBSTONE_TTL, RetainedVersions

__all__ = ["CONFIRM_WAIT", "TOMBSTONE_TTL", "CopiesNotConfirmed", "Router", "install"]

log = logging.getLogger("tether.cluster")

ROUTE = "tether.mqtt.route."
ACK = "tether.mqtt.ack."
INTEREST = "tether.mqtt.interest"
HELLO = "tether.mqtt.interest.hello"
INTEREST_ACK = "tether.mqtt.interest.ack."

#: Seconds a publisher's acknowledgement waits for another node to confirm its copies.
CONFIRM_WAIT = 10.0
#: Seconds a SUBACK waits at most for the other nodes to apply this node's new filters (a node that does not
#: answer is slow or dying: the subscription is acknowledged anyway, as without a cluster).
INTEREST_WAIT = 2.0
#: Bytes of copies a node may have sent to another and not yet had answered: beyond, QoS 0 copies for it are
#: dropped (counted in ``delivery.dropped``) instead of piling up in NATS ahead of everything else.
WINDOW = 16 * 1024 * 1024
#: Filters per interest message of a full announcement, and bytes of frames per batch of copies (NATS
#: refuses messages over 1 MB by default).
_CHUNK = 5_000
_BATCH_BYTES = 256 * 1024
_ACK = struct.Struct("!QB")
#: Topics whose plan (the other nodes to send a copy to) :meth:`Router.route` keeps, at most; all are
#: forgotten whenever a node's filters change.
_PLANS = 10_000
#: The usual outcome of routing a QoS 0 message, shared.
_ROUTED = tuple(Routed(n) for n in range(64))


class CopiesNotConfirmed(Exception):
    """Another node did not confirm its copies of a message: the publisher must send it again."""


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # a failure nobody waited for (a platform publish) is not "never retrieved"


class _Outgoing:
    """What this event-loop turn sends to one node."""

    __slots__ = ("confirm", "frames", "size")

    def __init__(self) -> None:
        self.frames: list[Payload] = []  # frames, or a plain copy's head, topic and payload
        self.size = 0
        self.confirm: asyncio.Future[None] | None = None


class _Barrier:
    """SUBACKs waiting until every node in ``waiting`` has applied the interest announcement ``seq``."""

    __slots__ = ("future", "seq", "timer", "waiting")

    def __init__(self, seq: int, waiting: set[str], future: asyncio.Future[None], timer: asyncio.TimerHandle):
        self.seq = seq
        self.waiting = waiting
        self.future = future
        self.timer = timer


class Router(RetainedVersions):
    """This node's part of routing MQTT messages in the cluster (see the module's description)."""

    def __init__(self, node: ClusterNode, broker: Broker) -> None:
        self.node = node
        self.me = node.name
        self.bus = node.bus
        self.broker = broker
        self.loop = broker.loop
        #: The broker's own routing (this node's subscriptions), kept before :meth:`Broker.reroute`.
        self.local_route = broker.route
        #: Every node's filters (its own included): subscriptions whose client id is the node's name.
        self.interest = SubscriptionTrie()
        self.filters: dict[str, set[str]] = {}
        self.incarnations: dict[str, float] = {}
        self._outgoing: dict[str, _Outgoing] = {}
        #: Topic -> the other nodes with a matching filter (and the topic encoded), for topics no shared group
        #: matches.
        self._plans: dict[str, tuple[tuple[str, ...], bytes]] = {}
        self._announce: dict[str, bool] = {}
        self._retained_out: list[bytes] = []
        self._retained_size = 0
        self._scheduled = False
        #: Batches sent and not yet answered: batch id -> (node, future of the QoS 1/2 copies, timer, bytes).
        self._awaiting: dict[int, tuple[str, asyncio.Future[None] | None, asyncio.TimerHandle, int]] = {}
        #: Bytes of copies sent to each node and not yet answered (flow control, see :data:`WINDOW`).
        self._unanswered: dict[str, int] = {}
        self.shed = 0
        self._next_batch = 1
        self._clock = 0
        self._versions: dict[str, tuple[int, str]] = {}
        self._tombstones: deque[tuple[float, str, tuple[int, str]]] = deque()
        self._early_retained: list[bytes] | None = []
        self._undo: list[Callable[[], Any]] = []
        self._task: asyncio.Task[None] | None = None
        #: Interest announcements numbered (the last one sent), the last one each peer applied, and the
        #: SUBACKs waiting for peers to catch up.
        self._seq = 0
        self._applied: dict[str, int] = {}
        self._barriers: list[_Barrier] = []

    # ------------------------------------------------------------------------------------ life cycle

    def install(self) -> None:
        """Take over the broker's routing and watch its interest (synchronous: before the broker starts);
        the NATS subscriptions follow in a task."""
        broker = self.broker
        for topic_filter in broker.subscriptions.filters():
            self._interest_changed(topic_filter, True)
        self._undo.append(broker.watch_interest(self._interest_changed))
        self._undo.append(broker.reroute(self.route))
        broker.interest_settled = self.settled
        self._undo.append(lambda: setattr(broker, "interest_settled", None))
        # A flooding client must not hold the event loop: NATS traffic and heartbeats run as tasks.
        broker.fair_reads = True
        membership = self.node.membership
        membership.on_down.append(self._node_down)
        membership.on_up.append(self._node_up)
        self._undo.append(lambda: membership.on_up.remove(self._node_up))
        self.bus.on_reconnected.append(self._reconnected)
        self._undo.append(lambda: membership.on_down.remove(self._node_down))
        self._undo.append(lambda: self.bus.on_reconnected.remove(self._reconnected))
        self._task = self.loop.create_task(self._start(), name="cluster-routing")

    async def _start(self) -> None:
        bus, me = self.bus, self.me
        for subject, handler in (
            (ROUTE + me, self._copies),
            (ACK + me, self._acked),
            (INTEREST, self._interest),
            (HELLO, self._hello),
            (INTEREST_ACK + me, self._interest_applied),
            (RETAINED_CHANGES, self._retained),
        ):
            self._undo.append(await bus.subscribe(subject, handler))
        await self.broker.started  # the saved retained messages are installed: now apply what came since
        early, self._early_retained = self._early_retained or [], None
        for data in early:
            self._apply_retained(data)
        self._announce_all()
        self.bus.post(HELLO, orjson.dumps({"node": me}))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await undo_all(self._undo, "routing")
        for batch_id in list(self._awaiting):
            self._settle(batch_id, "this node is stopping")
        for barrier in self._barriers:
            self._release(barrier)
        self._barriers.clear()

    # ------------------------------------------------------------------------------------ routing out

    def route(self, message: Message) -> Routed:
        """Route a message accepted on this node: here, and one copy per other interested node."""
        if message.retain:
            self._retained_changed(message)
        topic = message.topic
        plan = self._plans.get(topic)
        if plan is None:
            subs, groups = self.interest.match(topic)
            me = self.me
            if groups:
                return self._route_groups(
                    message, [sub.client_id for sub in subs if sub.client_id != me], groups
                )
            if len(self._plans) >= _PLANS:
                self._plans.clear()
            nodes = tuple(dict.fromkeys(s.client_id for s in subs if s.client_id != me))
            plan = self._plans[topic] = (nodes, topic.encode())
        targets, name = plan
        if not targets:
            return self.local_route(message)
        routed = self.local_route(message, elsewhere=True)
        props = message.properties
        if (
            message.qos
            or routed.durable
            or message.expires_at is not None
            or not (props is EMPTY_PROPERTIES or props.is_empty)
        ):
            frame = encode_frame(message, self.loop.time())
            return self._forward(message, routed, targets, frame, None)
        # The common copy (QoS 0, nothing to wait for): framed here, topic encoded once per topic.
        payload = message.payload
        head = pack_plain_head(PLAIN_FLAGS[message.retain], 0.0, 0, len(name), 0, 0, len(payload))
        parts = (head, name, payload)
        size = len(head) + len(name) + len(payload)
        sent = 0
        unanswered = self._unanswered
        outgoing = self._outgoing
        for target in targets:
            if unanswered.get(target, 0) > WINDOW:
                self._shed(target)
                continue
            sent += 1
            out = outgoing.get(target)
            if out is None:
                out = outgoing[target] = _Outgoing()
            elif out.size + size > _BATCH_BYTES:
                self._send(target, out)
                out = outgoing[target] = _Outgoing()
            out.frames += parts
            out.size += size
        self.broker.stats.messages_forwarded += sent
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._flush)
        matched = routed.matched + sent
        return _ROUTED[matched] if matched < len(_ROUTED) else Routed(matched)

    def _route_groups(self, message: Message, nodes: list[str], groups: list[SharedGroup]) -> Routed:
        """:meth:`route` when shared groups match: each gets one member node (round robin)."""
        me = self.me
        targets: dict[str, list[str]] = {node: [] for node in nodes}  # node -> the groups it serves this time
        ordinary = set(targets)
        here: set[str] = set()
        for group in groups:
            order = group.order
            index = group.next_index % len(order)
            group.next_index = index + 1
            chosen = order[index].client_id
            if chosen == me:
                here.add(group.topic_filter)
            else:
                targets.setdefault(chosen, []).append(group.topic_filter)
        shared = (lambda g: g.topic_filter in here) if here else no_group
        if not targets:
            return self.local_route(message, shared=shared)
        routed = self.local_route(message, shared=shared, elsewhere=True)
        now = self.loop.time()
        plain: bytes | None = None  # the frame of a copy for ordinary subscriptions only, made once
        frames: dict[str, bytes] = {}
        for target, assigned in targets.items():
            if assigned or target not in ordinary:
                frames[target] = encode_frame(message, now, target in ordinary, tuple(assigned))
            else:
                frames[target] = plain = plain or encode_frame(message, now)
        return self._forward(message, routed, tuple(targets), None, frames)

    def _forward(
        self,
        message: Message,
        routed: Routed,
        targets: tuple[str, ...],
        frame: bytes | None,
        frames: dict[str, bytes] | None,
    ) -> Routed:
        """Add the copies for ``targets`` (``frame`` for each, or each its own in ``frames``) to this turn's
        batches; what the publisher's acknowledgement waits for."""
        confirm = message.qos > 0
        waits: list[asyncio.Future[None]] = []
        sent = 0
        unanswered = self._unanswered
        outgoing = self._outgoing
        for target in targets:
            if not confirm and unanswered.get(target, 0) > WINDOW:
                self._shed(target)  # the node is behind: a QoS 0 copy is dropped, as by a full queue
                continue
            if frames is not None:
                frame = frames[target]
            assert frame is not None
            sent += 1
            out = outgoing.get(target)
            if out is None:
                out = outgoing[target] = _Outgoing()
            elif out.size + len(frame) > _BATCH_BYTES:  # NATS limits the size of a message: send it now
                self._send(target, out)
                out = outgoing[target] = _Outgoing()
            out.frames.append(frame)
            out.size += len(frame)
            if confirm:
                if out.confirm is None:
                    out.confirm = self.loop.create_future()
                    out.confirm.add_done_callback(_retrieved)
                waits.append(out.confirm)
        self.broker.stats.messages_forwarded += sent
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._flush)
        if waits:
            confirmed = waits[0] if len(waits) == 1 else self._all(waits)
            return Routed(routed.matched + sent, routed.durable, routed.unsaved, confirmed)
        if routed.durable or routed.unsaved or routed.confirmed is not None:
            return Routed(routed.matched + sent, routed.durable, routed.unsaved, routed.confirmed)
        matched = routed.matched + sent
        return _ROUTED[matched] if matched < len(_ROUTED) else Routed(matched)

    def _all(self, futures: list[asyncio.Future[None]]) -> asyncio.Future[None]:
        both: asyncio.Future[None] = self.loop.create_future()
        both.add_done_callback(_retrieved)
        remaining = [len(futures)]

        def done(future: asyncio.Future[None]) -> None:
            if both.done():
                return
            if future.cancelled() or future.exception() is not None:
                both.set_exception(future.exception() or CopiesNotConfirmed("cancelled"))
                return
            remaining[0] -= 1
            if not remaining[0]:
                both.set_result(None)

        for future in futures:
            future.add_done_callback(done)
        return both

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Send what this turn gathered: one batch per node, the interest changes, the retained changes."""
        self._scheduled = False
        post = self.bus.post
        if self._outgoing:
            outgoing, self._outgoing = self._outgoing, {}
            for target, out in outgoing.items():
                self._send(target, out)
        if self._announce:
            changes, self._announce = self._announce, {}
            add = [f for f, added in changes.items() if added]
            remove = [f for f, added in changes.items() if not added]
            self._seq += 1
            post(INTEREST, self._interest_doc(seq=self._seq, add=add, remove=remove))
        if self._retained_out:
            self._send_retained()

    def _send(self, target: str, out: _Outgoing) -> None:
        """Post one batch; every batch is answered (at once, or for QoS 1/2 copies once they are durable)."""
        batch_id = self._next_batch
        self._next_batch += 1
        timer = self.loop.call_later(CONFIRM_WAIT, self._settle, batch_id, "no answer")
        self._awaiting[batch_id] = (target, out.confirm, timer, out.size)
        self._unanswered[target] = self._unanswered.get(target, 0) + out.size
        kind = COPIES if out.confirm is None else CONFIRM
        self.bus.post(ROUTE + target, encode_header(kind, batch_id, self.me) + b"".join(out.frames))

    def _shed(self, target: str) -> None:
        self.shed += 1
        self.broker.stats.dropped += 1
        if self.shed % 10_000 == 1:
            log.warning(
                "cluster: node %s is behind: QoS 0 copies for it are dropped (%d so far)", target, self.shed
            )

    def _settle(self, batch_id: int, failure: str | None) -> None:
        entry = self._awaiting.pop(batch_id, None)
        if entry is None:
            return
        target, future, timer, size = entry
        timer.cancel()
        left = self._unanswered.get(target, 0) - size
        if left > 0:
            self._unanswered[target] = left
        else:
            self._unanswered.pop(target, None)
        if future is None or future.done():
            return
        if failure is None:
            future.set_result(None)
        else:
            log.warning("cluster: node %s did not confirm copies of QoS 1/2 messages: %s", target, failure)
            future.set_exception(CopiesNotConfirmed(f"node {target}: {failure}"))

    async def _acked(self, msg: Msg) -> None:
        batch_id, status = _ACK.unpack_from(msg.data)
        self._settle(batch_id, None if status == 0 else "its copies were not saved")

    # ------------------------------------------------------------------------------------ routing in

    async def _copies(self, msg: Msg) -> None:
        """Deliver copies another node accepted (never routed further, never shown to the taps)."""
        batch = decode_batch(msg.data)
        broker = self.broker
        durable, unsaved = deliver_batch(broker, self.local_route, batch, self.loop.time())
        reply = ACK + batch.node
        persistence = broker.persistence
        if batch.kind != CONFIRM or persistence is None or not (durable or unsaved):
            self.bus.post(reply, _ACK.pack(batch.batch_id, 0))
            return
        # As for a local publisher (broker/qos.py): once committed, or once every copy in a persistent
        # session's window is acknowledged by its subscriber, if earlier.
        saved = persistence.commit_soon()
        if not durable:
            SavedOrDelivered(saved, unsaved)

        def answer(future: asyncio.Future[None]) -> None:
            failed = future.cancelled() or future.exception() is not None
            self.bus.post(reply, _ACK.pack(batch.batch_id, 1 if failed else 0))

        saved.add_done_callback(answer)

    # ------------------------------------------------------------------------------------ interest

    def _interest_changed(self, topic_filter: str, added: bool) -> None:
        self._announce[topic_filter] = added
        self._set_interest(self.me, topic_filter, added)
        self._schedule()

    def _set_interest(self, node: str, topic_filter: str, added: bool) -> None:
        filters = self.filters.setdefault(node, set())
        self._plans.clear()
        if added:
            if topic_filter not in filters:
                filters.add(topic_filter)
                share = None
                if topic_filter.startswith("$share/"):
                    share = topic_filter[7:].partition("/")[0]
                self.interest.add(Subscription(node, topic_filter, 2, share_name=share))
        elif topic_filter in filters:
            filters.discard(topic_filter)
            self.interest.remove(node, topic_filter)

    def _interest_doc(self, **fields: Any) -> bytes:
        return orjson.dumps({"node": self.me, "started_at": self.node.membership.me.started_at, **fields})

    def _announce_all(self) -> None:
        """Every filter of this node, replacing what the others knew of it."""
        self._flush()  # what was gathered goes first, in order
        mine = sorted(self.filters.get(self.me, ()))
        for start in range(0, max(len(mine), 1), _CHUNK):
            self._seq += 1
            doc = self._interest_doc(seq=self._seq, reset=start == 0, add=mine[start : start + _CHUNK])
            self.bus.post(INTEREST, doc)

    async def _interest(self, msg: Msg) -> None:
        doc = orjson.loads(msg.data)
        node = str(doc["node"])
        if node == self.me:
            return
        self.incarnations[node] = float(doc.get("started_at", 0))
        if doc.get("reset"):
            for topic_filter in list(self.filters.get(node, ())):
                self._set_interest(node, topic_filter, False)
        for topic_filter in doc.get("add", ()):
            self._set_interest(node, str(topic_filter), True)
        for topic_filter in doc.get("remove", ()):
            self._set_interest(node, str(topic_filter), False)
        if "seq" in doc:
            self.bus.post(INTEREST_ACK + node, orjson.dumps({"node": self.me, "seq": doc["seq"]}))

    def settled(self) -> asyncio.Future[None] | None:
        """None if every live peer has applied this node's filters as they are now; else a future done when
        they have (or after :data:`INTEREST_WAIT` seconds): what a SUBACK waits for."""
        seq = self._seq + (1 if self._announce else 0)  # the changes of this turn go out numbered seq
        waiting = {name for name in self.node.membership.peers if self._applied.get(name, 0) < seq}
        if not waiting:
            return None
        future = self.loop.create_future()
        barrier = _Barrier(seq, waiting, future, self.loop.call_later(INTEREST_WAIT, self._late, future))
        self._barriers.append(barrier)
        return future

    def _late(self, future: asyncio.Future[None]) -> None:
        for barrier in self._barriers:
            if barrier.future is future:
                log.warning("cluster: nodes %s did not confirm new subscriptions", ", ".join(barrier.waiting))
                barrier.waiting.clear()
        self._check_barriers()

    async def _interest_applied(self, msg: Msg) -> None:
        doc = orjson.loads(msg.data)
        node, seq = str(doc["node"]), int(doc["seq"])
        if seq > self._applied.get(node, 0):
            self._applied[node] = seq
        for barrier in self._barriers:
            if barrier.seq <= seq:
                barrier.waiting.discard(node)
        self._check_barriers()

    def _check_barriers(self) -> None:
        if any(not barrier.waiting for barrier in self._barriers):
            for barrier in [b for b in self._barriers if not b.waiting]:
                self._release(barrier)
            self._barriers = [b for b in self._barriers if b.waiting]

    @staticmethod
    def _release(barrier: _Barrier) -> None:
        barrier.timer.cancel()
        if not barrier.future.done():
            barrier.future.set_result(None)

    async def _hello(self, msg: Msg) -> None:
        """Someone asks for every node's filters, or (``to``) for this node's."""
        doc = orjson.loads(msg.data)
        if doc.get("node") != self.me and doc.get("to", self.me) == self.me:
            self._announce_all()

    def _node_down(self, node: NodeInfo, clean: bool) -> None:
        """A node left: it gets no more copies; the copies it did not confirm are refused to their
        publishers."""
        name = node.name
        if self.incarnations.get(name, node.started_at) != node.started_at:
            return  # a newer incarnation already announced its filters
        self.incarnations.pop(name, None)
        self._applied.pop(name, None)  # a new incarnation knows nothing of our filters yet
        for barrier in self._barriers:
            barrier.waiting.discard(name)
        self._check_barriers()
        for topic_filter in list(self.filters.pop(name, ())):
            self.interest.remove(name, topic_filter)
        self._plans.clear()
        self._outgoing.pop(name, None)
        for batch_id, (target, *_) in list(self._awaiting.items()):
            if target == name:
                self._settle(batch_id, "it left the cluster" if clean else "it is gone")

    def _node_up(self, node: NodeInfo) -> None:
        """A node joined, or came back after it was thought gone (its filters were dropped here): it is asked
        for them (it asks for ours in the same way)."""
        if self._task is not None and self._task.done():
            self.bus.post(HELLO, orjson.dumps({"node": self.me, "to": node.name}))

    def _reconnected(self) -> None:
        self._announce_all()
        self.bus.post(HELLO, orjson.dumps({"node": self.me}))


def install(node: ClusterNode, broker: Broker) -> Callable[[], Awaitable[None]]:
    """Route the broker's messages across the cluster; returns the coroutine function that stops."""
    router = Router(node, broker)
    router.install()
    return router.close
