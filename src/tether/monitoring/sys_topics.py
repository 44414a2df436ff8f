"""`$SYS/brokers/<node>/...` topics for operators' subscriptions (EMQX's system topics, docs/protocols.md
section 8): `clients/<clientid>/connected` and `.../disconnected` JSON on every connection event, and every
`interval` seconds `stats/<key>` (e.g. `stats/connections/count`) with the figure as text.

Each tenant hears its own: the messages are published in the namespace (mountpoint) of the client they are
about, and a tenant's stats in its own, so a tenant's operator subscribing to `$SYS/#` sees its own clients'
events only. Anonymous clients' events go to the unmounted namespace, which no tenant sees. Nothing is
retained; a message nobody subscribed to costs one cached trie lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import orjson

from tether.broker.hooks import ClientInfo
from tether.monitoring.stats import StatsReader
from tether.mqtt.reason_codes import ReasonCode

if TYPE_CHECKING:
    from tether.adapters.access import PlatformHooks
    from tether.broker import Broker

__all__ = ["SysTopics", "disconnect_reason"]

#: EMQX's disconnect reasons for the codes that have one; others are the reason code's name in lower case.
_REASONS = {
    ReasonCode.SUCCESS: "normal",
    ReasonCode.ADMINISTRATIVE_ACTION: "kicked",
    ReasonCode.SESSION_TAKEN_OVER: "discarded",
    ReasonCode.KEEP_ALIVE_TIMEOUT: "keepalive_timeout",
    ReasonCode.SERVER_SHUTTING_DOWN: "shutdown",
}


def disconnect_reason(code: int) -> str:
    try:
        reason = ReasonCode(code)
    except ValueError:
        return f"0x{code:02x}"
    return _REASONS.get(reason, reason.name.lower())


class SysTopics:
    INTERVAL = 60.0

    def __init__(self, broker: Broker, stats: StatsReader, node: str, interval: float = INTERVAL) -> None:
        self.broker = broker
        self.stats = stats
        self.interval = interval
        self.prefix = f"$SYS/brokers/{node}/"
        self._task: asyncio.Task[None] | None = None

    def install(self, hooks: PlatformHooks) -> None:
        hooks.listen(on_connected=self._connected, on_disconnected=self._disconnected)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sys-topics")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _publish(self, mountpoint: str, topic: str, payload: bytes) -> None:
        self.broker.publish(self.prefix + topic, payload, mountpoint=mountpoint)

    def _connected(self, client: ClientInfo, session_present: bool) -> None:
        now = int(time.time() * 1000)
        event = {
            "clientid": client.client_id,
            "username": client.username,
            "ipaddress": _host(client.peer),
            "proto_name": "MQTT",
            "proto_ver": client.protocol_version,
            "connack": 0,
            "connected_at": now,
            "ts": now,
        }
        self._publish(client.mountpoint, f"clients/{client.client_id}/connected", orjson.dumps(event))

    def _disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        now = int(time.time() * 1000)
        event = {
            "clientid": client.client_id,
            "username": client.username,
            "reason": disconnect_reason(int(reason)),
            "disconnected_at": now,
            "ts": now,
        }
        self._publish(client.mountpoint, f"clients/{client.client_id}/disconnected", orjson.dumps(event))

    def tick(self) -> None:
        """Publish every tenant's stats in its namespace (tenants with a client connected)."""
        mountpoints = {c.client.mountpoint for c in list(self.broker.connections) if c.client is not None}
        mountpoints.discard("")
        for mountpoint in mountpoints:
            for key, value in self.stats.stats(self.broker, mountpoint).items():
                self._publish(mountpoint, "stats/" + key.replace(".", "/"), str(value).encode())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.tick()


def _host(peer: str | None) -> str | None:
    """The address of `host:port` (IPv6 `[::1]:port` too)."""
    if peer is None:
        return None
    host = peer.rpartition(":")[0] if ":" in peer else peer
    return host.strip("[]")
