"""The broker's figures in EMQX's `/stats` and `/metrics` key names (docs/protocols.md section 8), for the
whole broker or one tenant's namespace (its mountpoint: sessions are keyed by mountpoint + client id, and a
tenant's topics live under it).

Each reading walks the sessions (and, for a tenant, the retained messages): milliseconds for 10,000 clients.
`.max` figures are the highest seen by any reading of the same scope (an API call or a `$SYS` tick).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

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
        """`/metrics`: a tenant's connection events; with `platform`, every tenant's and the broker's message
        counters (the broker counts messages for all tenants at once)."""
        if not platform:
            return self.counters.tenant_events(tenant_id)
        s = broker.stats
        figures = self.counters.all_events()
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
            }
        )
        return figures
