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
    resource: str  # "managedobjects", "measurements", "events", "alarms", "operations"
    action: Action
    id: int | None  # None for data that was never stored (processing mode TRANSIENT)
    source_id: int | None  # the device or object the data is about (the channel's id)
    payload: object  # the domain object after the change (for DELETE: as it was)
    agent_id: int | None = None  # operations: the agent that executes them


Handler = Callable[[DomainEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Register a handler; returns the function that unregisters it."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler)

    def publish(self, event: DomainEvent) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:  # one faulty subscriber must not break the write that already succeeded
                log.exception("event handler %r failed for %s %s", handler, event.resource, event.action)
