"""Delivering the copies another node sent (cluster/routing.py, "routing in"). A run of plain QoS 0 copies of
one topic (Batch.runs) is matched once and, when it is for one subscription of an online client, written to
it in one call; every other copy goes through the broker's routing as a local message would."""

from __future__ import annotations

from collections.abc import Callable

from tether.broker import Broker
from tether.broker.inflight import Delivery
from tether.broker.message import Message
from tether.broker.ports import Routed
from tether.broker.subscriptions import SharedGroup
from tether.mqtt.properties import EMPTY_PROPERTIES

from .frames import Batch, Frame

__all__ = ["deliver_batch", "deliver_plain", "no_group"]


def no_group(group: SharedGroup) -> bool:
    """The choice of shared groups of a copy for none of them."""
    return False


def deliver_plain(broker: Broker, route: Callable[..., Routed], topic: str, payloads: list[bytes]) -> None:
    """Deliver plain copies of ``topic`` (for this node's ordinary subscriptions only: shared groups get a
    copy only when the sender chose this node for them, which makes it no plain copy); ``route`` is the
    broker's own routing (:meth:`Broker.route`, not the cluster's)."""
    subs, _ = broker.subscriptions.match(topic)
    if not subs:
        return  # as Broker.route with here=False: no drop counted, the sender's node counted it
    done = 0
    if len(subs) == 1 and subs[0].identifier is None:
        session = broker.sessions.get(subs[0].client_id)
        owner = session.owner if session is not None else None
        if owner is not None:
            done = owner.deliver_plain(topic, payloads)
            stats = broker.stats
            stats.messages_sent += done
            stats.messages_routed += done
    for payload in payloads[done:] if done else payloads:
        route(Message(topic, payload, 0, False, EMPTY_PROPERTIES, None, None), here=False, shared=no_group)


def deliver_batch(
    broker: Broker, route: Callable[..., Routed], batch: Batch, now: float
) -> tuple[bool, list[Delivery]]:
    """Deliver a batch of copies (never routed further, never shown to the taps): whether one went into
    durable state, and the QoS 1/2 copies in the windows of online persistent sessions."""
    durable = False
    unsaved: list[Delivery] = []
    count = 0
    for frame in batch.runs(now):
        if type(frame) is tuple:
            topic, payloads = frame
            deliver_plain(broker, route, topic, payloads)
            count += len(payloads)
            continue
        assert isinstance(frame, Frame)
        groups = frame.groups
        shared = (lambda g, groups=groups: g.topic_filter in groups) if groups else no_group
        routed = route(frame.message, here=False, ordinary=frame.ordinary, shared=shared)
        count += 1
        if frame.message.qos:
            durable = durable or routed.durable
            unsaved.extend(routed.unsaved)
    broker.stats.messages_from_nodes += count
    return durable, unsaved
