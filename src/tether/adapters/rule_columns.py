"""The columns of a message for the rule engine (EMQX's `message.publish` fields), built for each message the
rules take, and only those the rules read: a rule's SQL names the columns it reads (`CompiledRule.reads`),
and when its outputs carry the columns through (`SELECT *`) its actions' templates name what they read of
them (`${payload}`, `${clientid}`). An action that reads the whole output (a sink, the console, an empty
republish payload) needs every column."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tether.adapters.namespaces import tenant_mountpoint
from tether.broker.message import Message
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.rules.models import MQTT_PROPERTIES, Republish
from tether.rules.service import LoadedRule

from .rule_republish import template_keys

__all__ = ["COLUMNS", "NOT_RETAINED", "RETAINED", "MessageColumns", "Need", "need_of", "pub_props"]

RETAINED = {"retain": True, "dup": False}
NOT_RETAINED = {"retain": False, "dup": False}
#: Columns a message shares with the others of its publisher and topic, and those its connection gives.
_BASE = frozenset({"topic", "node", "event", "clientid", "username", "peerhost"})
_CONNECTION = frozenset({"username", "peerhost"})
_EXTRA = ("payload", "id", "qos", "flags", "timestamp", "publish_received_at", "pub_props")
#: Every column a message may have.
COLUMNS = _BASE | frozenset(_EXTRA)


class Need:
    """The columns to build for the rules that take a topic."""

    __slots__ = ("base", "connection", "extra", "names")

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.base = tuple(sorted(names & _BASE))
        #: Of payload, id, qos, flags, timestamp, publish_received_at, pub_props: those read, in that order.
        self.extra = tuple(name for name in _EXTRA if name in names)
        self.connection = bool(names & _CONNECTION)


def need_of(rules: Iterable[LoadedRule]) -> Need | None:
    """What the rules read of a message's columns; None: all of them."""
    names: set[str] = set()
    for loaded in rules:
        compiled = loaded.compiled
        names |= compiled.reads
        if compiled.passes_columns:
            for action in loaded.rule.actions:
                keys = template_keys(action) if type(action) is Republish else None
                if keys is None:
                    return None
                names |= keys
    return Need(frozenset(names))


class MessageColumns:
    def __init__(self, node: str, connection_of: Callable[[str], Any]) -> None:
        self.node = node
        self.connection_of = connection_of  # the connection of a session key, or None
        #: Per publisher (its session key): its connection and the columns read from it.
        self._senders: dict[str, tuple[object, dict[str, Any]]] = {}
        #: The columns a message shares with the others of its publisher and topic (copied per message).
        self._bases: dict[tuple[str | None, str], dict[str, Any]] = {}
        self._seq = 0
        self._id_ms, self._id_prefix = -1, ""

    def build(
        self, tenant_id: str, message: Message, topic: str, received_at: int, need: Need | None = None
    ) -> dict[str, Any]:
        """The columns of a message (absent ones left out): all of them, or those of `need`."""
        sender = message.sender
        if need is None or need.connection:
            base = self._base(tenant_id, sender, topic, True)
        else:
            base = self._bases.get((sender, topic)) or self._base(tenant_id, sender, topic, False)
        if need is None:
            columns = base.copy()
            columns["id"] = self.new_id(received_at)
            columns["payload"] = _payload(message)
            columns["qos"] = message.qos
            # shared: rules never change them
            columns["flags"] = RETAINED if message.retain else NOT_RETAINED
            columns["timestamp"] = columns["publish_received_at"] = received_at
            properties = message.properties
            if properties is not EMPTY_PROPERTIES:
                props = pub_props(properties)
                if props:
                    columns["pub_props"] = props
            return columns
        columns = {}
        for name in need.base:  # (a loop: a comprehension is a call of its own in Python 3.11)
            value = base.get(name)
            if value is not None:
                columns[name] = value
        for name in need.extra:
            if name == "payload":
                payload = message.payload
                try:
                    columns["payload"] = payload.decode() if type(payload) is bytes else str(payload, "utf-8")
                except UnicodeDecodeError:
                    columns["payload"] = bytes(payload)
            elif name == "id":
                columns["id"] = self.new_id(received_at)
            elif name == "qos":
                columns["qos"] = message.qos
            elif name == "flags":
                columns["flags"] = RETAINED if message.retain else NOT_RETAINED
            elif name == "timestamp" or name == "publish_received_at":
                columns[name] = received_at
            elif message.properties is not EMPTY_PROPERTIES:  # pub_props
                props = pub_props(message.properties)
                if props:
                    columns["pub_props"] = props
        return columns

    def new_id(self, received_at: int) -> str:
        """A message's `id`: its time and a sequence number, in hex."""
        self._seq = seq = self._seq + 1
        if received_at != self._id_ms:  # the id's first half changes once a millisecond
            self._id_ms, self._id_prefix = received_at, f"{received_at:016X}"
        return self._id_prefix + f"{seq:016X}"

    def base(self, tenant_id: str, sender: str | None, topic: str) -> dict[str, Any]:
        """The columns a message shares with the others of its publisher and topic, as read when first
        asked (the connection's username and peerhost are not checked again: see `build`). Do not change."""
        return self._bases.get((sender, topic)) or self._base(tenant_id, sender, topic, False)

    def _base(self, tenant_id: str, sender: str | None, topic: str, check: bool) -> dict[str, Any]:
        """`check`: make sure the publisher's connection is the one its columns were read from (username and
        peerhost are its connection's; the clientid is the session key's)."""
        key = (sender, topic)
        base = self._bases.get(key)
        if base is None:
            base = {"topic": topic, "node": self.node, "event": "message.publish"}
            if sender is not None:
                base.update(self.sender(tenant_id, sender))
            if len(self._bases) >= 10_000:
                self._bases.clear()
            self._bases[key] = base
        elif check and sender is not None:
            cached = self._senders.get(sender)
            if cached is None or cached[0] is not self.connection_of(sender):
                self._bases.pop(key)  # the publisher reconnected: read its connection again
                return self._base(tenant_id, sender, topic, check)
        return base

    def sender(self, tenant_id: str, sender: str) -> dict[str, Any]:
        """clientid, username and peerhost of a publisher (its connection read once while it lasts)."""
        connection = self.connection_of(sender)
        cached = self._senders.get(sender)
        if cached is not None and cached[0] is connection:
            return cached[1]
        found: dict[str, Any] = {"clientid": sender.removeprefix(tenant_mountpoint(tenant_id))}
        client = connection.client if connection is not None else None
        if client is not None:
            if client.username is not None:
                found["username"] = client.username
            if client.peer is not None:
                found["peerhost"] = client.peer.rpartition(":")[0] or client.peer
        if len(self._senders) >= 100_000:
            self._senders.clear()
        self._senders[sender] = (connection, found)
        return found


def _payload(message: Message) -> str | bytes:
    """Text when it is UTF-8, else the bytes."""
    payload = message.payload
    try:
        return payload.decode() if type(payload) is bytes else str(payload, "utf-8")
    except UnicodeDecodeError:
        return bytes(payload)


def pub_props(properties: Properties) -> dict[str, Any]:
    """A PUBLISH's properties under EMQX's names (`pub_props.'User-Property'.key`)."""
    props: dict[str, Any] = {}
    for name, attribute in MQTT_PROPERTIES.items():
        value = getattr(properties, attribute)
        if value is not None:
            props[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if properties.user_properties:
        props["User-Property"] = dict(properties.user_properties)
        props["User-Property-Pairs"] = [{"key": k, "value": v} for k, v in properties.user_properties]
    return props
