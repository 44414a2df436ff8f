"""QoS flows of one connection in both directions (spec 4.3, 4.4, 4.9): PUBLISH and acknowledgements.

Inbound: QoS 1 is acknowledged after routing, or once stored when a platform handler or the persistence of a
persistent session (online or offline) holds the acknowledgement (in arrival order either way); QoS 2
follows "Method B" of spec 4.3.3 (forwarded on the first PUBLISH, the Packet Identifier kept until PUBREL);
more unreleased QoS 2 messages than our Receive Maximum is answered with DISCONNECT 0x93.
Outbound: a window of at most the client's Receive Maximum QoS 1/2 messages in flight, a bounded queue behind
it, and the payload forwarded without a copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from tether.mqtt.encoder import encode_plain_publish_head, encode_publish_parts
from tether.mqtt.errors import ProtocolError
from tether.mqtt.packets import Packet, Payload, PubAck, PubComp, Publish, PubRec, PubRel, new_publish
from tether.mqtt.properties import EMPTY_PROPERTIES
from tether.mqtt.reason_codes import ReasonCode

from .inflight import AWAIT_PUBACK, AWAIT_PUBCOMP, Delivery, SavedOrDelivered
from .message import Message
from .ports import ConnectionParts
from .reserved import is_server_topic

__all__ = ["QoSFlows", "ack"]

log = logging.getLogger("tether.broker")

_RC = ReasonCode
#: Refusals a 3.1.1 client is acknowledged for (the message is dropped): resending cannot change them.
_REFUSED_FOR_GOOD = frozenset({ReasonCode.NOT_AUTHORIZED, ReasonCode.PAYLOAD_FORMAT_INVALID})


def _both(
    loop: asyncio.AbstractEventLoop, first: asyncio.Future[Any], second: asyncio.Future[Any]
) -> asyncio.Future[Any]:
    """A future done when both are: with the first one's result, or the first exception."""
    both: asyncio.Future[Any] = loop.create_future()

    def done(_: object) -> None:
        if both.done() or not (first.done() and second.done()):
            return
        for future in (second, first):
            if future.cancelled() or future.exception() is not None:
                both.set_exception(future.exception() or asyncio.CancelledError())
                return
        both.set_result(first.result())

    first.add_done_callback(done)
    second.add_done_callback(done)
    return both


def ack(first: int, packet_id: int) -> bytes:
    """A success acknowledgement without properties: Remaining Length 2 (spec 3.4.2.1, 3.5.2.1, 3.6.2.1,
    3.7.2.1). ``first``: 0x40 PUBACK, 0x50 PUBREC, 0x62 PUBREL, 0x70 PUBCOMP."""
    return bytes((first, 2, packet_id >> 8, packet_id & 0xFF))


class QoSFlows(ConnectionParts):
    """Mixed into :class:`~tether.broker.client.ClientConnection`, which provides the attributes below."""

    __slots__ = ()

    _writable: bool
    _receive_maximum: int
    recv_msg: int
    send_msg: int
    _acks: deque[tuple[int, int, ReasonCode, asyncio.Future[Any] | None]] | None

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def _send(self, packet: Packet) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------------------------------- PUBLISH in

    def _on_publish(self, packet: Publish) -> None:
        session = self.session
        client = self.client
        assert session is not None and client is not None
        broker = self.broker
        qos = packet.qos
        pid = packet.packet_id
        self.recv_msg += 1  # type: ignore[misc]  # a slot of ClientConnection
        if qos == 2:
            awaiting = session.awaiting_rel
            if pid in awaiting:
                # spec 4.3.3 method B: a re-sent PUBLISH of a message already received is not forwarded again.
                self._acknowledge(0x50, pid, _RC.SUCCESS, None)
                return
            if len(awaiting) >= broker.config.receive_maximum:
                # [MQTT-3.3.4-7] spec 4.9: more unacknowledged QoS 2 PUBLISH than our Receive Maximum: 0x93.
                raise ProtocolError(_RC.RECEIVE_MAXIMUM_EXCEEDED, "receive maximum exceeded")
        topic = packet.topic
        refusal = None
        if not broker.hooks.authorize_publish(client, topic, qos, packet.retain):
            # Allowed publishes are not counted one by one: authorization.allow adds recv_msg less these.
            broker.stats.count(client.mountpoint, "authorization.deny.publish")
            refusal = _RC.NOT_AUTHORIZED
        elif topic[:1] == "$" and is_server_topic(topic):
            # spec 4.7.2: `$SYS/...` and the like are the server's, even for a superuser: 0x90.
            refusal = _RC.TOPIC_NAME_INVALID
        if refusal is not None:
            log.info("MQTT client %s may not publish to %r", client.client_id, topic)
            if qos == 2 and self.version != 5:
                session.await_rel(pid)
            if qos:
                # MQTT 5: PUBACK/PUBREC 0x87 or 0x90 (a PUBREC >= 0x80 ends the QoS 2 flow, spec 4.3.3). 3.1.1
                # has no negative acknowledgement: the message is dropped and the flow completed.
                self._acknowledge(0x40 if qos == 1 else 0x50, pid, refusal, None)
            return
        props = packet.properties
        expiry = props.message_expiry_interval
        mount = self._mount
        if mount is None:
            mounted = topic
            root = None
        else:
            topic, mounted, root = mount.name_in(topic)  # an equal topic: the kept string (its hash known)
        message = Message(
            mounted,
            packet.payload,
            qos,
            packet.retain,
            props,
            None if expiry is None else broker.loop.time() + expiry,
            session.client_id,
            pid,
        )
        routed = broker.route(message)
        count = routed.matched
        pending: asyncio.Future[Any] | None = None
        handlers = broker.handlers
        if handlers:
            handler = handlers.get(topic.partition("/")[0] if root is None else root)
            if handler is not None:
                count += 1  # the platform takes it: not "no matching subscribers"
                try:
                    pending = handler(client, topic, message)
                except Exception as exc:
                    log.exception("MQTT message handler failed on %r", topic)
                    pending = broker.loop.create_future()
                    pending.set_exception(exc)
        if not qos:
            return
        persistence = broker.persistence
        if persistence is not None and (routed.durable or routed.unsaved):
            # Queued for an offline persistent session, or retained: acknowledged once it is durable; one
            # commit covers every acknowledgement waiting meanwhile (group commit). In online persistent
            # sessions only: once saved, or once every subscriber has acknowledged its copy, if earlier.
            durable = persistence.commit_soon()
            if not routed.durable:
                SavedOrDelivered(durable, routed.unsaved)
            pending = durable if pending is None else _both(broker.loop, pending, durable)
        confirmed = routed.confirmed
        if confirmed is not None:  # copies on other nodes of a cluster (cluster/routing.py)
            pending = confirmed if pending is None else _both(broker.loop, pending, confirmed)
        if qos == 2:
            session.await_rel(pid)
        code = _RC.SUCCESS if count else _RC.NO_MATCHING_SUBSCRIBERS
        self._acknowledge(0x40 if qos == 1 else 0x50, pid, code, pending)

    def _acknowledge(
        self, first: int, pid: int, code: ReasonCode, pending: asyncio.Future[Any] | None
    ) -> None:
        """Send a PUBACK (``first`` 0x40) or PUBREC (0x50) now, or once ``pending`` resolves.

        [MQTT-4.6.0-2] [MQTT-4.6.0-3] acknowledgements go out in the order the PUBLISH packets arrived, so
        one held for durability holds back those behind it. Only the first waiting acknowledgement (the head
        of the queue) has a done-callback: when it runs, it sends every acknowledgement that is ready and
        waits on the next one that is not, so a batch of stored messages costs a connection one callback,
        not one per message.
        """
        acks: deque[tuple[int, int, ReasonCode, asyncio.Future[Any] | None]] | None = self._acks
        if pending is None and not acks:
            self._write_ack(first, pid, code)
            return
        if acks is None:
            acks = self._acks = deque()  # type: ignore[misc]  # a slot of ClientConnection
        acks.append((first, pid, code, pending))
        if len(acks) == 1 and pending is not None:  # the head (pending: else it was written above)
            pending.add_done_callback(self._release_acks)

    def _release_acks(self, _: object = None) -> None:
        acks = self._acks
        success = _RC.SUCCESS
        while acks:
            first, pid, code, pending = acks[0]
            if pending is not None:
                if not pending.done():
                    pending.add_done_callback(self._release_acks)  # the new head
                    return
                failed = pending.cancelled() or pending.exception() is not None
                if failed:
                    code = _RC.UNSPECIFIED_ERROR
                    if not pending.cancelled():
                        log.error("MQTT message on %s not stored: %s", self, pending.exception())
                else:
                    result = pending.result()
                    if result is not None and result.is_error:
                        code = result
            acks.popleft()
            if self._closed:
                continue
            if code is success:  # the common case, inline (one per stored message under ingest load)
                self._write(bytes((first, 2, pid >> 8, pid & 0xFF)))
                continue
            session = self.session
            if code.is_error and first == 0x50 and session is not None and pid in session.awaiting_rel:
                session.awaiting_rel.discard(pid)  # a PUBREC >= 0x80 ends the flow (spec 4.3.3)
            if code.is_error and self.version != 5 and code not in _REFUSED_FOR_GOOD:
                # MQTT 3.1.1 cannot refuse a message it failed to store: close the connection unacknowledged
                # so that the client sends it again (spec 4.4). A message refused for what it is (not
                # authorized, its content invalid) is acknowledged and dropped: sent again, it would be
                # refused again, forever.
                self.close(_RC.UNSPECIFIED_ERROR)  # type: ignore[attr-defined]
                continue  # closed: the rest is dropped as it completes (their outcomes retrieved)
            self._write_ack(first, pid, code)

    def _write_ack(self, first: int, pid: int, code: ReasonCode) -> None:
        if code == _RC.SUCCESS or self.version != 5:
            self._write(ack(first, pid))
        elif first == 0x40:
            self._send(PubAck(pid, code))
        else:
            self._send(PubRec(pid, code))

    def _on_pubrel(self, packet: PubRel) -> None:
        session = self.session
        assert session is not None
        pid = packet.packet_id
        if pid in session.awaiting_rel:
            session.awaiting_rel.discard(pid)
            self._write(ack(0x70, pid))
        elif self.version == 5:
            self._send(PubComp(pid, _RC.PACKET_IDENTIFIER_NOT_FOUND))
        else:
            self._write(ack(0x70, pid))

    # ----------------------------------------------------------------------------------------- PUBLISH out

    def _on_puback(self, packet: PubAck) -> None:
        outbox = self.session.outbox  # type: ignore[union-attr]
        delivery = outbox.inflight.get(packet.packet_id)
        if delivery is not None and delivery.state == AWAIT_PUBACK:
            del outbox.inflight[packet.packet_id]
            if self.broker.delivery_listeners:
                self._tell("acked", delivery, None)
            if outbox.queue:
                self._pump()
            self._outbox_changed(delivery)

    def _on_pubrec(self, packet: PubRec) -> None:
        outbox = self.session.outbox  # type: ignore[union-attr]
        pid = packet.packet_id
        delivery = outbox.inflight.get(pid)
        if delivery is None or delivery.state == AWAIT_PUBACK:
            if self.version == 5:
                self._send(PubRel(pid, _RC.PACKET_IDENTIFIER_NOT_FOUND))
            else:
                self._write(ack(0x62, pid))
            return
        if packet.reason_code.is_error:
            # spec 4.3.3: PUBREC with a reason code of 0x80 or greater ends the flow (and frees the window).
            del outbox.inflight[pid]
            self._pump()
            self._outbox_changed(delivery)
            return
        delivery.state = AWAIT_PUBCOMP
        self._write(ack(0x62, pid))
        self._outbox_changed(delivery)

    def _on_pubcomp(self, packet: PubComp) -> None:
        outbox = self.session.outbox  # type: ignore[union-attr]
        delivery = outbox.inflight.get(packet.packet_id)
        if delivery is not None and delivery.state == AWAIT_PUBCOMP:
            del outbox.inflight[packet.packet_id]
            if self.broker.delivery_listeners:
                self._tell("acked", delivery, None)
            if outbox.queue:
                self._pump()
            self._outbox_changed(delivery)

    def _outbox_changed(self, delivery: Delivery) -> None:
        """The client acknowledged ``delivery`` (PUBACK, PUBREC): a publisher's acknowledgement waiting for
        it to be saved need not wait any more (see SavedOrDelivered). The changed window of a persistent
        session is saved by the next periodic checkpoint (write-behind: until then a restart may send the
        message again, as QoS 1 allows; a QoS 2 copy goes again with its Packet Identifier and DUP, which
        the client does not forward twice, spec 4.3.3)."""
        waiter = delivery.waiter
        if waiter is not None:
            delivery.waiter = None
            waiter.delivered()
        persistence = self.broker.persistence
        if persistence is not None:
            persistence.delivery_acked(self.session)  # type: ignore[arg-type]

    def _tell(self, kind: str, delivery: Delivery, reason: str | None) -> None:
        """What became of a copy for this client, to the broker's delivery listeners."""
        key = self.session.client_id  # type: ignore[union-attr]
        for listener in self.broker.delivery_listeners:
            listener(kind, delivery.message, key, delivery.qos, reason)

    def deliver(self, delivery: Delivery) -> None:
        """Send a message now if the window and the socket allow it, else queue it (bounded)."""
        outbox = self.session.outbox  # type: ignore[union-attr]
        if delivery.qos == 0:
            if self._writable and not self._closed:
                self._write_publish(delivery, 0, False, 0)
            elif not outbox.enqueue(delivery):
                self.broker.stats.dropped += 1
                if self.broker.delivery_listeners:
                    self._tell("delivery_dropped", delivery, "queue_full")
            return
        if (
            self._writable
            and not outbox.queue
            and len(outbox.inflight) < self._receive_maximum
            and not self._closed
        ):
            pid = outbox.allocate(delivery)
            if not self._write_publish(delivery, delivery.qos, False, pid):
                outbox.release(pid)
        elif not outbox.enqueue(delivery):
            self.broker.stats.dropped += 1
            if self.broker.delivery_listeners:
                self._tell("delivery_dropped", delivery, "queue_full")

    def deliver_plain(self, topic: str, payloads: Sequence[Payload]) -> int:
        """QoS 0 copies of one (mounted) topic, RETAIN 0, without properties, for a subscription without
        identifier (a cluster's copies from another node): written as :meth:`deliver` would, one header per
        payload size. Returns how many went (the rest, from the first the socket has no room for, is for
        :meth:`deliver`); 0 if a copy needs more than a plain header or someone listens to deliveries."""
        conn = self.conn
        v5 = self.version == 5
        if not self._writable or self._closed or self.broker.delivery_listeners:
            return 0
        if v5 and conn.outgoing_aliases is not None:
            return 0
        mount = self._mount
        if mount is not None:
            topic = mount.name_out(topic)
        limit = conn.client_limits.maximum_packet_size
        write = self._write
        head = b""
        size = -1
        done = 0
        for payload in payloads:
            if len(payload) != size:
                size = len(payload)
                head = encode_plain_publish_head(topic, False, size, v5)
            done += 1
            if len(head) + size > limit:
                continue  # [MQTT-3.1.2-25] discarded as if sent
            self.send_msg += 1  # type: ignore[misc]  # a slot of ClientConnection
            write(head)
            if size:
                write(payload)
            if not self._writable:
                break
        return done

    def _pump(self) -> None:
        """Move queued messages into the window while the client's Receive Maximum allows (spec 4.9)."""
        session = self.session
        assert session is not None
        outbox = session.outbox
        queue = outbox.queue
        inflight = outbox.inflight
        now = self.broker.loop.time()
        while queue and self._writable and not self._closed:
            delivery = queue[0]
            if delivery.qos and len(inflight) >= self._receive_maximum:
                return
            queue.popleft()
            if delivery.message.expired(now):
                # spec 3.3.2.3.3: onward delivery had not started: the expired copy is deleted.
                if self.broker.delivery_listeners:
                    self._tell("delivery_dropped", delivery, "expired")
                continue
            if delivery.qos == 0:
                self._write_publish(delivery, 0, False, 0)
            else:
                pid = outbox.allocate(delivery)
                if not self._write_publish(delivery, delivery.qos, False, pid):
                    outbox.release(pid)

    def _write_publish(self, delivery: Delivery, qos: int, dup: bool, pid: int) -> bool:
        """Encode and queue one PUBLISH; ``False`` if it exceeds the client's Maximum Packet Size.

        [MQTT-3.1.2-25] such a message is discarded as if it had been sent. The payload is handed to the
        transport as is (no copy).
        """
        message = delivery.message
        mount = self._mount
        topic = message.topic if mount is None else mount.name_out(message.topic)
        conn = self.conn
        version = self.version
        if (
            not qos
            and not dup
            and (
                version != 5
                or (
                    message.properties is EMPTY_PROPERTIES
                    and message.expires_at is None
                    and not delivery.subscription_ids
                    and conn.outgoing_aliases is None
                )
            )
        ):
            # The common copy, nothing of this subscriber's to add: its headers without a Publish object.
            payload = message.payload
            head = encode_plain_publish_head(topic, delivery.retain, len(payload), version == 5)
            if len(head) + len(payload) > conn.client_limits.maximum_packet_size:
                return False
        else:
            head, payload, alias = self._publish_parts(delivery, topic, qos, dup, pid)
            if len(head) + len(payload) > conn.client_limits.maximum_packet_size:
                return False
            if alias:
                conn.outgoing_aliases.commit(topic, alias)  # type: ignore[union-attr]
        self.send_msg += 1  # type: ignore[misc]  # a slot of ClientConnection
        self._write(head)
        if payload:
            self._write(payload)
        if not dup and self.broker.delivery_listeners:
            self._tell("delivered", delivery, None)
        return True

    def _publish_parts(
        self, delivery: Delivery, topic: str, qos: int, dup: bool, pid: int
    ) -> tuple[bytes, Payload, int]:
        """The PUBLISH of a copy as (headers, payload, the Topic Alias to commit once it is sent, or 0)."""
        message = delivery.message
        conn = self.conn
        alias = 0
        if self.version == 5:
            props = message.properties
            sub_ids = delivery.subscription_ids
            if message.expires_at is not None or sub_ids:
                changes: dict[str, Any] = {}
                if message.expires_at is not None:
                    # [MQTT-3.3.2-6] the forwarded Message Expiry Interval is the time still to run.
                    changes["message_expiry_interval"] = message.remaining_expiry(self.broker.loop.time())
                if sub_ids:
                    # [MQTT-3.3.4-3] [MQTT-3.3.4-4] the Subscription Identifiers of matching subscriptions.
                    changes["subscription_identifiers"] = sub_ids
                props = props.replace(**changes)
            packet = new_publish(topic, message.payload, qos, delivery.retain, dup, pid, props)
            aliases = conn.outgoing_aliases
            if aliases is not None:
                packet, alias = aliases.prepare(packet)
            head, payload = encode_publish_parts(packet, 5)
        else:
            packet = new_publish(topic, message.payload, qos, delivery.retain, dup, pid, EMPTY_PROPERTIES)
            head, payload = encode_publish_parts(packet, self.version)
        return head, payload, alias
