"""Domain events across nodes (docs/cluster.md, "Platform events across nodes").

Each node tells the others what its cluster subscribers (``EventBus.subscribe(..., cluster=True)``) want:
per resource, every tenant or a set of tenants (``tether.events.interest``, sent when it changes, when a
peer appears and when NATS is back). A node forwards an event of its own only while some other node
wants it, so ``EventBus.listens`` stays false for a tenant's measurements nobody anywhere listens to and
ingest builds no event for them. Events travel on ``tether.events.data``, in the order they were
published on their node; the receiving node hands them to its cluster subscribers only
(``EventBus.deliver``): local subscribers (storage writes, rules) ran on the node of origin.

Payloads are the services' domain objects, sent with pickle and read back by :class:`_Unpickler`, which
resolves only Tether's own dataclasses and enumerations, ``datetime`` and ``decimal`` types: a message on
NATS can build those and nothing else (Python docs, pickle, "Restricting Globals").
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import io
import logging
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from tether.core.events import DomainEvent, EventBus, Wanted

from .bus import Msg
from .membership import NodeInfo
from .node import ClusterNode

__all__ = ["ClusterEvents", "decode", "encode"]

log = logging.getLogger("tether.cluster")

INTEREST = "tether.events.interest"
DATA = "tether.events.data"
_ANY = "*"

_SAFE_GLOBALS: dict[str, frozenset[str]] = {
    "datetime": frozenset({"date", "datetime", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "builtins": frozenset({"bytearray", "complex", "frozenset", "set"}),
}


#: (module, name) -> the class, once allowed (every event names the same few).
_allowed: dict[tuple[str, str], Any] = {}


class _Unpickler(pickle.Unpickler):
    """Finds only Tether's dataclasses and enumerations and the few standard types above."""

    def find_class(self, module: str, name: str) -> Any:
        found = _allowed.get((module, name))
        if found is not None:
            return found
        if name in _SAFE_GLOBALS.get(module, ()):
            found = super().find_class(module, name)
        elif module.startswith("tether.") and "." not in name:
            found = super().find_class(module, name)
            if not (
                isinstance(found, type) and (dataclasses.is_dataclass(found) or issubclass(found, enum.Enum))
            ):
                found = None
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cluster event")
        _allowed[(module, name)] = found
        return found


def encode(origin: str, event: DomainEvent) -> bytes:
    return origin.encode() + b"\n" + pickle.dumps(event, protocol=5)


def decode(data: bytes) -> tuple[str, DomainEvent]:
    origin, _, body = data.partition(b"\n")
    event = _Unpickler(io.BytesIO(body)).load()
    if not isinstance(event, DomainEvent):
        raise pickle.UnpicklingError(f"not a domain event: {type(event).__name__}")
    return origin.decode(), event


class ClusterEvents:
    """The event bus's link to the other nodes (``EventBus.remote``)."""

    def __init__(self, node: ClusterNode, events: EventBus) -> None:
        self.node = node
        self.events = events
        self._peers: dict[str, tuple[float, Wanted]] = {}  # node -> (its start, what it wants)
        self._every: set[str] = set()  # resources some peer wants of every tenant ("*": every resource)
        self._some: dict[str, set[str]] = {}  # resource -> tenants some peer wants
        self._announced: bytes = b""
        self._scheduled = False
        self._unflushed = False  # an announcement posted and not yet confirmed by NATS
        self._closers: list[Callable[[], Awaitable[None] | None]] = []
        self.forwarded = 0
        self.received = 0

    async def start(self) -> None:
        bus, membership = self.node.bus, self.node.membership
        self._closers = [
            await bus.subscribe(INTEREST, self._on_interest),
            await bus.subscribe(DATA, self._on_data),
        ]
        membership.on_up.append(self._peer_up)
        membership.on_down.append(self._peer_down)
        bus.on_reconnected.append(self._reannounce)
        self._closers.append(lambda: membership.on_up.remove(self._peer_up))
        self._closers.append(lambda: membership.on_down.remove(self._peer_down))
        self._closers.append(lambda: bus.on_reconnected.remove(self._reannounce))
        self.events.remote = self
        self._announce(force=True)

    async def close(self) -> None:
        if self.events.remote is self:
            self.events.remote = None
        for closer in reversed(self._closers):
            try:
                result = closer()
                if result is not None:
                    await result
            except Exception:  # the connection may be closing
                log.debug("cluster events: closing failed", exc_info=True)
        self._closers = []

    # -- EventBus.remote -------------------------------------------------------------------------------

    def listens(self, tenant_id: str, resource: str) -> bool:
        every = self._every
        if resource in every or _ANY in every:
            return True
        some = self._some
        if not some:
            return False
        return tenant_id in some.get(resource, ()) or tenant_id in some.get(_ANY, ())

    def forward(self, event: DomainEvent) -> None:
        if not self.listens(event.tenant_id, event.resource):
            return
        try:
            data = encode(self.node.name, event)
        except Exception:  # a payload that cannot travel (a bug): the local subscribers had it
            log.exception("cluster events: %s %s cannot be sent", event.resource, event.action)
            return
        self.forwarded += 1
        self.node.bus.post(DATA, data)

    def interest_changed(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self._announce)
        except RuntimeError:  # no loop yet (building the services): start() announces
            self._scheduled = False

    async def settled(self) -> None:
        if self._scheduled:
            self._announce()
        if self._unflushed:
            self._unflushed = False
            try:
                await asyncio.wait_for(self.node.bus.flush(), 2)  # NATS has it (and routes it in order)
            except Exception:  # NATS is away: the announcement goes when it is back
                log.debug("cluster events: interest not confirmed", exc_info=True)

    # -- interest ----------------------------------------------------------------------------------------

    def _announce(self, force: bool = False) -> None:
        self._scheduled = False
        wanted = self.events.wanted()
        doc = {
            "node": self.node.name,
            "started_at": self.node.membership.me.started_at,
            "wanted": {r: None if t is None else sorted(t) for r, t in sorted(wanted.items())},
        }
        data = orjson.dumps(doc)
        if data != self._announced or force:
            self._announced = data
            self._unflushed = True
            self.node.bus.post(INTEREST, data)

    def _reannounce(self) -> None:
        self._announce(force=True)

    def _peer_up(self, node: NodeInfo) -> None:
        self._announce(force=True)  # the newcomer learns what this node wants

    def _peer_down(self, node: NodeInfo, clean: bool) -> None:
        known = self._peers.get(node.name)
        if known is not None and known[0] == node.started_at:
            del self._peers[node.name]
            self._rebuild()

    async def _on_interest(self, msg: Msg) -> None:
        try:
            doc = orjson.loads(msg.data)
            name, started_at, raw = str(doc["node"]), float(doc["started_at"]), doc["wanted"]
            wanted: Wanted = {
                str(r): None if t is None else {str(x) for x in t} for r, t in dict(raw).items()
            }
        except (ValueError, KeyError, TypeError):
            log.warning("cluster events: ignored a malformed interest")
            return
        if name == self.node.name:
            return
        new = name not in self._peers
        self._peers[name] = (started_at, wanted)
        self._rebuild()
        if new:
            self._announce(force=True)  # it may have missed ours (it started after us)

    def _rebuild(self) -> None:
        every: set[str] = set()
        some: dict[str, set[str]] = {}
        for _, wanted in self._peers.values():
            for resource, tenants in wanted.items():
                if tenants is None:
                    every.add(resource)
                else:
                    some.setdefault(resource, set()).update(tenants)
        self._every, self._some = every, some

    # -- data -------------------------------------------------------------------------------------------

    async def _on_data(self, msg: Msg) -> None:
        data = msg.data
        if data.startswith(self.node.name.encode() + b"\n"):
            return  # our own, back from NATS
        try:
            _, event = decode(data)
        except Exception:
            log.warning("cluster events: ignored an event that cannot be read", exc_info=True)
            return
        self.received += 1
        self.events.deliver(event)
