"""SUBSCRIBE and UNSUBSCRIBE of one connection (spec 3.8-3.11): authorization per filter, the broker's
subscription, the retained messages and the acknowledgement, which waits until the change is stored for a
persistent session and, in a cluster, until every node routes to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tether.mqtt.packets import Disconnect, Packet, SubAck, Subscribe, UnsubAck, Unsubscribe
from tether.mqtt.reason_codes import ReasonCode

from .ports import ConnectionParts
from .subscriptions import Subscription

__all__ = ["SubscriptionFlows"]

log = logging.getLogger("tether.broker")

_RC = ReasonCode


class SubscriptionFlows(ConnectionParts):
    """The SUBSCRIBE/UNSUBSCRIBE handlers of :class:`~tether.broker.client.ClientConnection` (a mixin, as
    :class:`~tether.broker.qos.QoSFlows`)."""

    __slots__ = ()

    # The connection's own (declared for the type checker only).
    _send: Callable[[Packet], None]
    close: Callable[[ReasonCode], None]

    def _on_subscribe(self, packet: Subscribe) -> None:
        session = self.session
        client = self.client
        assert session is not None and client is not None
        broker = self.broker
        hooks = broker.hooks
        ids = packet.properties.subscription_identifiers
        identifier = ids[0] if ids else None
        codes: list[ReasonCode] = []
        granted: list[Subscription] = []
        retained_for: list[Subscription] = []
        maximum_qos = self.conn.server_limits.maximum_qos
        mount = self._mount
        for topic_filter, options in packet.subscriptions:
            if not hooks.authorize_subscribe(client, topic_filter, options.qos):
                # spec 3.9.3: the hooks choose 0x80 Unspecified error or 0x87 Not authorized (3.1.1: 0x80).
                broker.stats.count(client.mountpoint, "authorization.deny")
                codes.append(hooks.subscribe_refusal(client))
                continue
            broker.stats.count(client.mountpoint, "authorization.allow")
            if mount is not None:
                topic_filter = mount.filter(topic_filter)
            sub = Subscription.from_options(session.client_id, topic_filter, options, identifier)
            sub.qos = min(sub.qos, maximum_qos)
            old = broker.subscribe(session, sub)
            codes.append(_RC(sub.qos))
            granted.append(sub)
            # Retain Handling: 0 send retained messages [MQTT-3.3.1-9], 1 only for a new subscription
            # [MQTT-3.3.1-10], 2 never [MQTT-3.3.1-11]. Shared subscriptions get none (spec 4.8.2).
            handling = sub.retain_handling
            if sub.share_name is None and (handling == 0 or (handling == 1 and old is None)):
                retained_for.append(sub)

        def finish() -> None:
            # [MQTT-3.8.4-1] [MQTT-3.8.4-2] a SUBACK with the SUBSCRIBE's Packet Identifier; one code per
            # filter [MQTT-3.8.4-6]. Then the retained messages, as before the SUBACK was held.
            self._send(SubAck(packet.packet_id, codes))
            for sub in retained_for:
                broker.send_retained(session, sub)
            for sub in granted:
                shown = sub.topic_filter if mount is None else mount.unmount_filter(sub.topic_filter)
                hooks.on_subscribed(client, shown, sub.qos)

        if not granted:
            finish()
            return
        settled = broker.interest_settled
        if settled is not None:  # a cluster: the other nodes route to the new subscription once they know it
            suback = finish

            def finish() -> None:
                waiting = settled()
                if waiting is None:
                    suback()
                else:
                    waiting.add_done_callback(lambda _: None if self._closed else suback())

        self._when_saved(finish)

    def _on_unsubscribe(self, packet: Unsubscribe) -> None:
        session = self.session
        client = self.client
        assert session is not None and client is not None
        codes = []
        removed = []
        mount = self._mount
        for topic_filter in packet.topic_filters:
            mounted = topic_filter if mount is None else mount.filter(topic_filter)
            if self.broker.unsubscribe(session, mounted):
                codes.append(_RC.SUCCESS)
                removed.append(topic_filter)
            else:
                codes.append(_RC.NO_SUBSCRIPTION_EXISTED)

        def finish() -> None:
            # [MQTT-3.10.4-4] UNSUBACK with the UNSUBSCRIBE's Packet Identifier, one code per filter (MQTT 5).
            self._send(UnsubAck(packet.packet_id, codes))
            for topic_filter in removed:
                self.broker.hooks.on_unsubscribed(client, topic_filter)

        if removed:
            self._when_saved(finish)
        else:
            finish()

    def _when_saved(self, finish: Callable[[], None]) -> None:
        """Run ``finish`` (send the SUBACK/UNSUBACK) now, or for a persistent session once a commit has saved
        its changed subscriptions: an acknowledged subscription survives a crash. If saving fails, the
        connection is closed unacknowledged (the client subscribes again when it reconnects)."""
        session = self.session
        persistence = self.broker.persistence
        if persistence is None or session is None or not session.expiry_interval:
            finish()
            return

        def saved(future: asyncio.Future[None]) -> None:
            error = None if future.cancelled() else future.exception()
            if self._closed:
                return
            if future.cancelled() or error is not None:
                log.error("MQTT subscriptions of %s not stored: %s", self, error)
                if self.version == 5:
                    self._send(Disconnect(_RC.UNSPECIFIED_ERROR))
                self.close(_RC.UNSPECIFIED_ERROR)
                return
            finish()

        persistence.commit_soon().add_done_callback(saved)
