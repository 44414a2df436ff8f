"""Shared pieces of the real-time tests: principals, events, a manual clock and a test renderer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tether.core.events import Action, DomainEvent
from tether.realtime import Session
from tether.tenants.models import Principal, Role

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
DEVICE = Principal("t1", "device_1", frozenset({Role.DEVICE}))
OTHER_TENANT = Principal("t2", "admin", frozenset({Role.ADMIN}))
BOOTSTRAP = Principal("management", "devicebootstrap", frozenset({Role.BOOTSTRAP}))
BASE = "http://tether.test"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Thing:
    """A stand-in domain object."""

    id: int
    name: str


def render_thing(base_url: str, thing: Any) -> dict[str, Any]:
    return {"id": str(thing.id), "name": thing.name, "self": f"{base_url}/things/{thing.id}"}


def event(
    resource: str,
    source_id: int,
    *,
    tenant: str = "t1",
    action: Action = "CREATE",
    object_id: int | None = None,
    agent_id: int | None = None,
    name: str = "thing",
) -> DomainEvent:
    oid = object_id if object_id is not None else source_id
    return DomainEvent(tenant, resource, action, oid, source_id, Thing(oid, name), agent_id)


async def until_waiting(session: Session) -> None:
    """Yield to the loop until a connect is held on the session (ordering, not timing)."""
    for _ in range(10_000):
        if session.waiting:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the connect was never held")
