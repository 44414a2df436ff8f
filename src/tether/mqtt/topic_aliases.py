"""Topic aliases (spec 3.3.2.3.4): per-connection maps between small integers and topic names.

Both directions are independent: the receiver of PUBLISH packets announces how many aliases it accepts (Topic
Alias Maximum in CONNECT for the client, in CONNACK for the server) and the sender picks the aliases. Mappings
never outlive the network connection [MQTT-3.3.2-7].
"""

from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType
from typing import cast

from .errors import ProtocolError
from .packets import Publish, new_publish
from .properties import EMPTY_PROPERTIES, Properties
from .reason_codes import ReasonCode

__all__ = ["IncomingTopicAliases", "OutgoingTopicAliases"]

#: The aliases of a connection that set none: read-only (writes replace it first).
_NO_TOPICS = cast("dict[int, str]", MappingProxyType({}))


class IncomingTopicAliases:
    """Resolves the Topic Alias of received PUBLISH packets, up to the ``maximum`` we announced."""

    __slots__ = ("_topics", "maximum")

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        # A dict from the first alias on (most connections use none: an empty dict costs 64 bytes each).
        self._topics: dict[int, str] = _NO_TOPICS

    def resolve(self, packet: Publish) -> Publish:
        """The packet with its real topic and without the Topic Alias property.

        Raises :class:`ProtocolError`: 0x94 Topic Alias invalid for 0 or an alias above the maximum, 0x82 for
        an empty topic with an alias that has no mapping.
        """
        props = packet.properties
        alias = props.topic_alias
        if alias is None:
            return packet
        # [MQTT-3.3.2-8] alias 0 is not permitted; [MQTT-3.3.2-9] / [MQTT-3.3.2-12] only aliases up to the
        # receiver's Topic Alias Maximum are valid.
        if alias == 0 or alias > self.maximum:
            raise ProtocolError(ReasonCode.TOPIC_ALIAS_INVALID, f"topic alias {alias} is not valid")
        topic = packet.topic
        if topic:
            # A topic name with an alias sets (or replaces) the mapping.
            if self._topics is _NO_TOPICS:
                self._topics = {}
            self._topics[alias] = topic
        else:
            mapped = self._topics.get(alias)
            if mapped is None:
                # spec 3.3.2.3.4: an empty topic with an alias that has no mapping is a Protocol Error.
                raise ProtocolError(ReasonCode.PROTOCOL_ERROR, f"topic alias {alias} has no mapping")
            topic = mapped
        # The alias belongs to this connection only, so it is removed before the message goes anywhere else.
        return new_publish(
            topic,
            packet.payload,
            packet.qos,
            packet.retain,
            packet.dup,
            packet.packet_id,
            _without_alias(props),
        )


class OutgoingTopicAliases:
    """Topic aliases the server chooses for PUBLISH packets it sends (spec 3.3.2.3.4).

    At most ``maximum`` aliases (the client's Topic Alias Maximum); when all are in use the least recently
    used one is re-mapped. :meth:`prepare` is free of side effects; :meth:`commit` records a mapping once the
    packet has really been sent, so a packet discarded as too large never leaves the client with a stale
    mapping.
    """

    __slots__ = ("_by_alias", "_by_topic", "maximum")

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._by_topic: OrderedDict[str, int] = OrderedDict()  # least recently used first
        self._by_alias: dict[int, str] = {}

    def prepare(self, packet: Publish) -> tuple[Publish, int]:
        """The packet to send and the alias it uses (0: none)."""
        topic = packet.topic
        if self.maximum <= 0 or not topic or packet.properties.topic_alias is not None:
            return packet, 0
        alias = self._by_topic.get(topic)
        if alias is not None:
            # Known mapping: send an empty topic name with the alias.
            return Publish(
                "",
                packet.payload,
                packet.qos,
                packet.retain,
                packet.dup,
                packet.packet_id,
                packet.properties.replace(topic_alias=alias),
            ), alias
        if len(self._by_topic) < self.maximum:
            alias = len(self._by_topic) + 1
        else:
            alias = next(iter(self._by_topic.values()))  # least recently used
        # New mapping: send the topic name and the alias (the receiver records the mapping).
        return Publish(
            topic,
            packet.payload,
            packet.qos,
            packet.retain,
            packet.dup,
            packet.packet_id,
            packet.properties.replace(topic_alias=alias),
        ), alias

    def commit(self, topic: str, alias: int) -> None:
        """Record that a PUBLISH for ``topic`` using ``alias`` was sent."""
        by_topic = self._by_topic
        if by_topic.get(topic) == alias:
            by_topic.move_to_end(topic)
            return
        old_alias = by_topic.pop(topic, None)
        if old_alias is not None:
            del self._by_alias[old_alias]
        previous = self._by_alias.get(alias)
        if previous is not None:
            del by_topic[previous]
        by_topic[topic] = alias
        self._by_alias[alias] = topic

    def apply(self, packet: Publish) -> Publish:
        """:meth:`prepare` and :meth:`commit` in one step."""
        out, alias = self.prepare(packet)
        if alias:
            self.commit(packet.topic, alias)
        return out


def _without_alias(props: Properties) -> Properties:
    values = {k: v for k, v in props.__dict__.items() if k != "topic_alias"}
    return Properties._from_values(values) if values else EMPTY_PROPERTIES
