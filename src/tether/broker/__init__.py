"""The embedded MQTT 5.0 / 3.1.1 broker (asyncio), built on the sans-I/O core in :mod:`tether.mqtt`.

One module per spec concept: :mod:`.listener` and :mod:`.websocket` (network), :mod:`.client` (one
connection), :mod:`.sessions`, :mod:`.subscriptions`, :mod:`.retained`, :mod:`.inflight` (QoS flows),
:mod:`.will`, :mod:`.keepalive`, :mod:`.hooks` and :mod:`.acl` (the seam for authentication and
authorization), :mod:`.mountpoints` (tenant namespaces), :mod:`.broker` (routing, platform handlers),
:mod:`.persistence` (write-behind saving), :mod:`.ports` (the seams between them) and :mod:`.service` (the
broker with its listeners, as `tether serve` runs it).
"""

from __future__ import annotations

from .broker import Broker, BrokerStats, MessageHandler
from .hooks import AuthResult, ClientInfo, ConnectionInfo, DefaultHooks, Hooks
from .message import Message
from .mountpoints import Mount
from .service import LISTENER_KINDS, MqttService, bind_socket, listener_url
from .settings import NEVER_EXPIRES, BrokerConfig, TlsConfig
from .storage import BrokerStore, MemoryBrokerStore

__all__ = [
    "LISTENER_KINDS",
    "NEVER_EXPIRES",
    "AuthResult",
    "Broker",
    "BrokerConfig",
    "BrokerStats",
    "BrokerStore",
    "ClientInfo",
    "ConnectionInfo",
    "DefaultHooks",
    "Hooks",
    "MemoryBrokerStore",
    "Message",
    "MessageHandler",
    "Mount",
    "MqttService",
    "TlsConfig",
    "bind_socket",
    "listener_url",
]
