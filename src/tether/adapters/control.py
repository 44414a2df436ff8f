"""The platform's hold on the running broker, for what operators ask of it over the management API
(/api/v5: connected clients, kicking them, subscribing on their behalf, publishing to them, statistics).

The services are built before the broker starts (and in tests without one); `install_adapters` attaches
the broker once it runs and detaches it before it stops. Meanwhile every request that needs it is answered
503 (ServiceUnavailable) in the caller's API family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.adapters.clients import TenantClients
from tether.adapters.namespaces import tenant_mountpoint
from tether.adapters.presence import Presence
from tether.core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from tether.broker import Broker

__all__ = ["BrokerControl"]


class BrokerControl:
    def __init__(self) -> None:
        self._broker: Broker | None = None

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

    def clients(self, tenant_id: str) -> TenantClients:
        """The tenant's clients in the running broker (:mod:`.clients`)."""
        broker = self.broker
        presence = getattr(broker.hooks, "presence", None)
        return TenantClients(
            broker, tenant_mountpoint(tenant_id), presence if isinstance(presence, Presence) else None
        )
