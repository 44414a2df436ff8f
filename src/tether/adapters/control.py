"""The platform's hold on the running broker, for what operators ask of it over the management API
(/api/v5: connected clients, kicking them, subscribing on their behalf, publishing to them, statistics).

The services are built before the broker starts (and in tests without one); `install_adapters` attaches
the broker once it runs and detaches it before it stops. Meanwhile every request that needs it is answered
503 (ServiceUnavailable) in the caller's API family.

In a cluster the composition root builds :class:`tether.cluster.admin.ClusterControl` instead: the same
interface, answered over every node's broker (docs/cluster.md, "Operating on any node").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tether.adapters.clients import (
    ClientDetails,
    ClientFilter,
    SubscriptionFilter,
    SubscriptionView,
    TenantClients,
)
from tether.adapters.namespaces import tenant_mountpoint
from tether.adapters.presence import Presence
from tether.core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from tether.broker import Broker
    from tether.monitoring import StatsReader

__all__ = ["BrokerControl", "Clients"]


class Clients(Protocol):
    """One tenant's MQTT clients as the management API reaches them: this broker's
    (:class:`~tether.adapters.clients.TenantClients`) or every node's (cluster/admin.py)."""

    async def page(self, where: ClientFilter, offset: int, limit: int) -> tuple[list[ClientDetails], int]: ...

    async def get(self, client_id: str) -> ClientDetails: ...

    async def kick(self, client_id: str) -> bool: ...

    async def subscriptions_of(self, client_id: str) -> list[SubscriptionView]: ...

    async def check_subscription(
        self, client_id: str, topic_filter: str, qos: int, no_local: bool
    ) -> None: ...

    async def subscribe(
        self,
        client_id: str,
        topic_filter: str,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
    ) -> SubscriptionView: ...

    async def unsubscribe(self, client_id: str, topic_filter: str) -> bool: ...

    async def all_subscriptions(
        self, where: SubscriptionFilter, offset: int, limit: int
    ) -> tuple[list[SubscriptionView], int]: ...


class BrokerControl:
    """`stats`: the reader of /stats and /metrics figures; `node`: this node's name in the answers."""

    def __init__(self, stats: StatsReader | None = None, node: str = "") -> None:
        self._broker: Broker | None = None
        self.stats_reader = stats
        self.node = node

    def attach(self, broker: Broker) -> None:
        self._broker = broker

    def detach(self) -> None:
        self._broker = None

    @property
    def running(self) -> bool:
        return self._broker is not None

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            raise ServiceUnavailable("The MQTT broker is not running", resource="broker")
        return self._broker

    def local_clients(self, tenant_id: str) -> TenantClients:
        """The tenant's clients in this node's running broker (:mod:`.clients`)."""
        broker = self.broker
        presence = getattr(broker.hooks, "presence", None)
        return TenantClients(
            broker,
            tenant_mountpoint(tenant_id),
            presence if isinstance(presence, Presence) else None,
            self.node,
        )

    def clients(self, tenant_id: str) -> Clients:
        """The tenant's clients, wherever the management API reaches them."""
        return self.local_clients(tenant_id)

    def _reader(self) -> StatsReader:
        if self.stats_reader is None:
            raise ServiceUnavailable("No statistics on this node", resource="broker")
        return self.stats_reader

    def local_stats(self, mountpoint: str | None) -> dict[str, Any]:
        return dict(self._reader().stats(self.broker, mountpoint))

    def local_metrics(self, tenant_id: str, platform: bool) -> dict[str, Any]:
        return dict(self._reader().metrics(self.broker, tenant_id, platform))

    async def stats(self, mountpoint: str | None) -> dict[str, dict[str, Any]]:
        """/stats figures by node (of the whole broker with mountpoint None, else of one namespace)."""
        return {self.node: self.local_stats(mountpoint)}

    async def metrics(self, tenant_id: str, platform: bool) -> dict[str, dict[str, Any]]:
        """/metrics figures by node."""
        return {self.node: self.local_metrics(tenant_id, platform)}
