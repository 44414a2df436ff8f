"""Domain events: what services announce after a change, for real-time notifications and device adapters.

The bus is in-process and synchronous; handlers must not block (they enqueue and return).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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


class _Subscription:
    __slots__ = ("handler", "resources", "wants")

    def __init__(self, handler: Handler, resources: frozenset[str] | None, wants: Interest | None) -> None:
        self.handler = handler
        self.resources = resources
        self.wants = wants


class EventBus:
    """Subscribers say which resources they handle (and, optionally, for which tenants right now), so a
    writer can ask `listens` before it builds events nobody would read: device ingest stores tens of
    thousands of measurements a second (bench/README.md, smartrest_ingest.py) and most have no listener."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []

    def subscribe(
        self,
        handler: Handler,
        *,
        resources: frozenset[str] | set[str] | None = None,
        wants: Interest | None = None,
    ) -> Callable[[], None]:
        """Register a handler for `resources` (None: all); returns the function that unregisters it.
        The handler still sees only events of those resources; `wants` only lets writers skip work."""
        subscription = _Subscription(handler, None if resources is None else frozenset(resources), wants)
        self._subscriptions.append(subscription)
        return lambda: self._subscriptions.remove(subscription)

    def listens(self, tenant_id: str, resource: str) -> bool:
        """Whether an event of `resource` in `tenant_id` would reach a subscriber that wants it."""
        for sub in self._subscriptions:
            if (sub.resources is None or resource in sub.resources) and (
                sub.wants is None or sub.wants(tenant_id)
            ):
                return True
        return False

    def publish(self, event: DomainEvent) -> None:
        for sub in list(self._subscriptions):
            if sub.resources is not None and event.resource not in sub.resources:
                continue
            try:
                sub.handler(event)
            except Exception:  # one faulty subscriber must not break the write that already succeeded
                log.exception("event handler %r failed for %s %s", sub.handler, event.resource, event.action)
