"""MQTT counters the broker itself does not keep: connection events per tenant (EMQX's `client.connected`,
`client.disconnected`, `client.subscribe`, `client.unsubscribe`, `session.created`, `session.resumed`) and
the messages the platform ingests per protocol family (SmartREST, Cumulocity JSON via MQTT, Xyte).

`install` follows the platform hooks' connection events and wraps the broker's platform handlers; both run
once per event or message, on the broker's loop, and cost a dict update.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from typing import TYPE_CHECKING, TypeAlias

from tether.adapters.login import login_of
from tether.broker.hooks import ClientInfo
from tether.broker.message import Message
from tether.broker.ports import MessageHandler
from tether.mqtt.reason_codes import ReasonCode

if TYPE_CHECKING:
    from tether.adapters.access import PlatformHooks
    from tether.broker import Broker

#: What a platform handler returns (broker/ports.py MessageHandler).
Handled: TypeAlias = "asyncio.Future[ReasonCode | None] | None"

__all__ = ["EVENT_KEYS", "MqttCounters", "family_of"]

#: The EMQX metric keys counted here, in the order they are reported.
EVENT_KEYS = (
    "client.connected",
    "client.disconnected",
    "client.subscribe",
    "client.unsubscribe",
    "session.created",
    "session.resumed",
)

#: Protocol family of a platform handler's topic root (docs/protocols.md sections 2 to 4).
_FAMILIES = {
    **dict.fromkeys(("s", "t", "q", "c"), "smartrest"),
    **dict.fromkeys(("event", "alarm", "measurement", "inventory"), "c8y_json"),
    "v1": "xyte",
}


def family_of(root: str) -> str:
    return _FAMILIES.get(root, root)


class MqttCounters:
    def __init__(self) -> None:
        #: tenant (None: anonymous clients) -> EMQX key -> count.
        self.events: dict[str | None, Counter[str]] = {}
        #: protocol family -> messages handed to the platform.
        self.ingested: Counter[str] = Counter()

    def count(self, client: ClientInfo, key: str) -> None:
        login = login_of(client)
        tenant = login.principal.tenant_id if login is not None else None
        counter = self.events.get(tenant)
        if counter is None:
            counter = self.events[tenant] = Counter()
        counter[key] += 1

    def tenant_events(self, tenant_id: str | None) -> dict[str, int]:
        counter = self.events.get(tenant_id, Counter())
        return {key: counter[key] for key in EVENT_KEYS}

    def all_events(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for counter in list(self.events.values()):
            total.update(counter)
        return {key: total[key] for key in EVENT_KEYS}

    # ----------------------------------------------------------------------------------------- wiring

    def install(self, broker: Broker, hooks: PlatformHooks) -> None:
        """Follow the connection events, and count what each platform handler receives. Call it after the
        protocol adapters added their handlers."""
        hooks.listen(
            on_connected=self._connected,
            on_disconnected=self._disconnected,
            on_subscribed=self._subscribed,
            on_unsubscribed=self._unsubscribed,
        )
        for root, handler in list(broker.handlers.items()):
            broker.handlers[root] = self._counted(family_of(root), handler)

    def _counted(self, family: str, handler: MessageHandler) -> MessageHandler:
        ingested = self.ingested

        @functools.wraps(handler)  # the adapter stays reachable as __wrapped__
        def handle(client: ClientInfo, topic: str, message: Message) -> Handled:
            ingested[family] += 1
            return handler(client, topic, message)

        return handle

    def _connected(self, client: ClientInfo, session_present: bool) -> None:
        self.count(client, "client.connected")
        self.count(client, "session.resumed" if session_present else "session.created")

    def _disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        self.count(client, "client.disconnected")

    def _subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        self.count(client, "client.subscribe")

    def _unsubscribed(self, client: ClientInfo, topic_filter: str) -> None:
        self.count(client, "client.unsubscribe")
