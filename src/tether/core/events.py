"""Domain events: what services announce after a change, for real-time notifications and device adapters.

The bus is in-process and synchronous; handlers must not block (they enqueue and return).

In a cluster (docs/cluster.md, "Platform events across nodes") an event also reaches the subscribers of the
other nodes that subscribed with ``cluster=True``. Each subscriber decides its scope once, when it
subscribes:

- local (the default): only events that happened on this node. Anything that writes storage or acts once
  for the whole platform (the audit trail, job targeting, rules on platform events, adopting an operation
  as a Fleets command) is local, so it runs once, on the node where the change was made.
- ``cluster=True``: also events that happened on the other nodes. Only for effects in this process's
  memory: delivering to connections or real-time clients held here, forgetting a cached object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Action = Literal["CREATE", "UPDATE", "DELETE"]


@dataclass(frozen=True, slots=True)
class DomainEvent:
    tenant_id: str
    resource: str  # "managedobjects", "measurements", "events", "alarms", "operations", "users"
    action: Action
    id: int | None  # None for data that was never stored (processing mode TRANSIENT)
    source_id: int | None  # the device or object the data is about (the channel's id)
    payload: object  # the domain object after the change (for DELETE: as it was)
    agent_id: int | None = None  # operations: the agent that executes them


Handler = Callable[[DomainEvent], None]
#: wants(tenant_id) -> whether a subscriber has any use for a tenant's events right now.
Interest = Callable[[str], bool]
#: The tenants a cluster subscriber's `wants` holds true for now (announced to the other nodes).
Tenants = Callable[[], Iterable[str]]
#: What this node's cluster subscribers want from the other nodes: resource ("*": every resource) -> the
#: tenants wanted, None for every tenant.
Wanted = dict[str, set[str] | None]


class Remote(Protocol):
    """The other nodes, as the bus sees them (tether.cluster.events.ClusterEvents)."""

    def listens(self, tenant_id: str, resource: str) -> bool:
        """Whether a subscriber on another node wants such an event."""
        ...

    def forward(self, event: DomainEvent) -> None:
        """Send a local event to the other nodes that want it (never blocks)."""
        ...

    def interest_changed(self) -> None:
        """This node's cluster subscribers want other tenants now."""
        ...

    async def settled(self) -> None:
        """Until the other nodes were told the last change of interest."""
        ...


class _Subscription:
    __slots__ = ("cluster", "handler", "resources", "tenants", "wants")

    def __init__(
        self,
        handler: Handler,
        resources: frozenset[str] | None,
        wants: Interest | None,
        cluster: bool,
        tenants: Tenants | None,
    ) -> None:
        self.handler = handler
        self.resources = resources
        self.wants = wants
        self.cluster = cluster
        self.tenants = tenants


class EventBus:
    """Subscribers say which resources they handle (and, optionally, for which tenants right now), so a
    writer can ask `listens` before it builds events nobody would read: device ingest stores tens of
    thousands of measurements a second (bench/README.md, smartrest_ingest.py) and most have no listener."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        #: The other nodes of a cluster (set by tether.cluster.events); None: this process is alone.
        self.remote: Remote | None = None

    def subscribe(
        self,
        handler: Handler,
        *,
        resources: frozenset[str] | set[str] | None = None,
        wants: Interest | None = None,
        cluster: bool = False,
        tenants: Tenants | None = None,
    ) -> Callable[[], None]:
        """Register a handler for `resources` (None: all); returns the function that unregisters it.
        The handler still sees only events of those resources; `wants` only lets writers skip work.
        `cluster`: also hear the events of the other nodes of a cluster (see the module's docstring); a
        cluster subscriber with `wants` gives `tenants` too, and calls :meth:`interest_changed` when they
        change."""
        if cluster and wants is not None and tenants is None:
            raise ValueError("a cluster subscriber with `wants` must list its tenants")
        frozen = None if resources is None else frozenset(resources)
        subscription = _Subscription(handler, frozen, wants, cluster, tenants)
        self._subscriptions.append(subscription)
        if cluster:
            self.interest_changed()

        def unsubscribe() -> None:
            self._subscriptions.remove(subscription)
            if cluster:
                self.interest_changed()

        return unsubscribe

    def listens(self, tenant_id: str, resource: str) -> bool:
        """Whether an event of `resource` in `tenant_id` would reach a subscriber that wants it (here or,
        in a cluster, on another node)."""
        for sub in self._subscriptions:
            if (sub.resources is None or resource in sub.resources) and (
                sub.wants is None or sub.wants(tenant_id)
            ):
                return True
        remote = self.remote
        return remote is not None and remote.listens(tenant_id, resource)

    def publish(self, event: DomainEvent) -> None:
        """An event of this node: every subscriber here, and the other nodes that want it."""
        for sub in list(self._subscriptions):
            if sub.resources is not None and event.resource not in sub.resources:
                continue
            try:
                sub.handler(event)
            except Exception:  # one faulty subscriber must not break the write that already succeeded
                log.exception("event handler %r failed for %s %s", sub.handler, event.resource, event.action)
        remote = self.remote
        if remote is not None:
            remote.forward(event)

    def tell_others(self, event: DomainEvent) -> None:
        """Only the other nodes' cluster subscribers (state they keep a copy of); nothing when alone."""
        remote = self.remote
        if remote is not None:
            remote.forward(event)

    def deliver(self, event: DomainEvent) -> None:
        """An event of another node: the cluster subscribers of this one."""
        for sub in list(self._subscriptions):
            if not sub.cluster or (sub.resources is not None and event.resource not in sub.resources):
                continue
            try:
                sub.handler(event)
            except Exception:
                log.exception("event handler %r failed for %s %s", sub.handler, event.resource, event.action)

    def wanted(self) -> Wanted:
        """What the cluster subscribers want from the other nodes now."""
        found: Wanted = {}
        for sub in self._subscriptions:
            if not sub.cluster:
                continue
            tenants = None if sub.tenants is None else set(sub.tenants())
            for resource in sub.resources if sub.resources is not None else ("*",):
                if resource in found and found[resource] is None:
                    continue
                if tenants is None:
                    found[resource] = None
                else:
                    known = found.setdefault(resource, set())
                    assert known is not None
                    known |= tenants
        return found

    def wants_remote(self, tenant_id: str, resource: str) -> bool:
        """Whether a cluster subscriber here wants an event of another node."""
        for sub in self._subscriptions:
            if (
                sub.cluster
                and (sub.resources is None or resource in sub.resources)
                and (sub.wants is None or sub.wants(tenant_id))
            ):
                return True
        return False

    def interest_changed(self) -> None:
        """A cluster subscriber's tenants changed: the other nodes are told (nothing without a cluster)."""
        remote = self.remote
        if remote is not None:
            remote.interest_changed()

    async def settled(self) -> None:
        """Until the other nodes know this node's interest as it is now (e.g. before a real-time subscription
        is confirmed, so an event made on another node right after is not missed); at once when alone."""
        remote = self.remote
        if remote is not None:
            await remote.settled()
