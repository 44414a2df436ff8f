"""The broker's figures in EMQX's `/stats` and `/metrics` key names (docs/protocols.md section 8), for the
whole broker or one tenant's namespace (its mountpoint: sessions are keyed by mountpoint + client id, and a
tenant's topics live under it).

Each reading walks the sessions (and, for a tenant, the retained messages): milliseconds for 10,000 clients.
`.max` figures are the highest seen by any reading of the same scope (an API call or a `$SYS` tick).
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from tether.adapters.namespaces import tenant_mountpoint
from tether.broker.stats import Traffic
from tether.monitoring.mqtt import MqttCounters

if TYPE_CHECKING:
    from tether.broker import Broker

__all__ = ["StatsReader", "node_name"]

#: Keys of /stats that have a `.max` companion.
_WITH_MAX = (
    "connections.count",
    "live_connections.count",
    "channels.count",
    "sessions.count",
    "cluster_sessions.count",
    "topics.count",
    "subscriptions.count",
    "subscriptions.shared.count",
    "suboptions.count",
    "subscribers.count",
    "retained.count",
)


def node_name() -> str:
    """The node's name, EMQX style (`name@host`)."""
    return f"tether@{socket.gethostname()}"


class StatsReader:
    def __init__(self, counters: MqttCounters) -> None:
        self.counters = counters
        self._max: dict[str | None, dict[str, int]] = {}

    def stats(self, broker: Broker, mountpoint: str | None) -> dict[str, int]:
        """`/stats` of the whole broker (mountpoint None) or of one tenant's namespace."""
        sessions = live = subscriptions = shared = subscribers = 0
        topics: set[str] = set()
        for session in broker.sessions:
            if mountpoint is not None and not session.client_id.startswith(mountpoint):
                continue
            sessions += 1
            if session.owner is not None:
                live += 1
            subs = session.subscriptions
            if subs:
                subscribers += 1
                subscriptions += len(subs)
                for sub in subs.values():
                    topics.add(sub.topic_filter)
                    if sub.share_name is not None:
                        shared += 1
        if mountpoint is None:
            retained = len(broker.retained)
        else:
            retained = sum(1 for m in broker.retained.messages() if m.topic.startswith(mountpoint))
        figures = {
            "connections.count": sessions,
            "live_connections.count": live,
            "channels.count": sessions,
            "sessions.count": sessions,
            "cluster_sessions.count": sessions,
            "topics.count": len(topics),
            "subscriptions.count": subscriptions,
            "subscriptions.shared.count": shared,
            "suboptions.count": subscriptions,
            "subscribers.count": subscribers,
            "retained.count": retained,
        }
        highest = self._max.setdefault(mountpoint, {})
        result: dict[str, int] = {}
        for key in _WITH_MAX:
            value = figures[key]
            top = max(value, highest.get(key, 0))
            highest[key] = top
            result[key] = value
            result[key.removesuffix(".count") + ".max"] = top
        return result

    def metrics(self, broker: Broker, tenant_id: str | None, platform: bool) -> dict[str, int]:
        """`/metrics`: a tenant's (its namespace's) connection events, traffic and authorization counts; with
        `platform`, every tenant's and the broker's message counters (the broker counts messages for all
        tenants at once)."""
        if not platform:
            mountpoint = None if tenant_id is None else tenant_mountpoint(tenant_id)

            def scope(namespace: str | None) -> bool:
                return namespace == mountpoint

            figures = self.counters.tenant_events(tenant_id)
            traffic = _traffic(broker, scope)
            figures.update(_traffic_figures(traffic))
            figures.update(_security_figures(broker, scope, traffic))
            figures["messages.received"] = traffic.recv_msg
            figures["messages.sent"] = traffic.send_msg
            return figures
        s = broker.stats
        figures = self.counters.all_events()
        traffic = _traffic(broker, _everything)
        figures.update(_traffic_figures(traffic))
        figures.update(_security_figures(broker, _everything, traffic))
        figures.update(
            {
                "messages.received": s.messages_received,
                "messages.publish": s.messages_received,
                "messages.delivered": s.messages_routed,
                "messages.sent": s.messages_sent,
                "messages.dropped": s.no_subscribers,
                "messages.dropped.no_subscribers": s.no_subscribers,
                "delivery.dropped": s.dropped,
                "delivery.dropped.queue_full": s.dropped,
                "messages.forward": s.messages_forwarded,
                "messages.forward.received": s.messages_from_nodes,
            }
        )
        return figures


#: Which namespaces a figure covers: every one (the platform) or one tenant's mountpoint.
Scope: TypeAlias = Callable[[str | None], bool]


def _everything(mountpoint: str | None) -> bool:
    return True


def _traffic(broker: Broker, scope: Scope) -> Traffic:
    """The traffic of the scope's namespaces: connections that ended, and live ones."""
    total = Traffic()
    for mountpoint, ended in list(broker.stats.ended.items()):
        if scope(mountpoint):
            total.add(ended)
    for connection in list(broker.connections):
        client = connection.client
        if scope(client.mountpoint if client is not None else None):
            total.add(connection.traffic)
    return total


def _traffic_figures(traffic: Traffic) -> dict[str, int]:
    return {
        "bytes.received": traffic.recv_oct,
        "bytes.sent": traffic.send_oct,
        "packets.received": traffic.recv_pkt,
        "packets.publish.received": traffic.recv_msg,
        "packets.publish.sent": traffic.send_msg,
    }


def _security_figures(broker: Broker, scope: Scope, traffic: Traffic) -> dict[str, int]:
    """Authentication and authorization counts. Refused CONNECTs belong to no tenant: the platform's only."""
    events: Counter[str] = Counter()
    for mountpoint, counter in list(broker.stats.events.items()):
        if scope(mountpoint):
            events.update(counter)
    denied_publish = events["authorization.deny.publish"]
    allowed = events["authorization.allow"] + traffic.recv_msg - denied_publish
    success = events["authentication.success"]
    figures = {
        "authentication.success": success,
        "authentication.success.anonymous": events["authentication.success.anonymous"],
        "authentication.failure": events["authentication.failure"],
        "client.authenticate": success + events["authentication.failure"],
        "client.auth.anonymous": events["authentication.success.anonymous"],
        "authorization.allow": allowed,
        "authorization.deny": events["authorization.deny"] + denied_publish,
        "client.authorize": allowed + events["authorization.deny"] + denied_publish,
    }
    if scope is _everything:
        figures["client.connect"] = events["client.connect"]
        figures["packets.connect.received"] = events["client.connect"]
    return figures
