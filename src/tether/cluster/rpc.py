"""Requests from one node to another over NATS request/reply (docs/cluster.md, "Operating on any node").

Every node answers on ``tether.rpc.<node>.<op>`` for the operations registered with :meth:`Rpc.serve`; the
bodies are JSON (orjson). An answer is ``{"ok": result}`` or ``{"error": {"kind": ..., "message": ...}}``:
the domain errors a handler raises (not found, invalid input, forbidden, conflict) travel by kind and are
raised again on the asking node, so the management API answers as if the client were local. A node that
does not answer within the wait raises :class:`NodeUnreachable` (a 503 in the caller's API family).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from nats.errors import Error as NatsError

from tether.core import errors

from .bus import Msg
from .node import ClusterNode

__all__ = ["NodeUnreachable", "Rpc", "RpcHandler"]

log = logging.getLogger("tether.cluster")

PREFIX = "tether.rpc"
#: Seconds a node has to answer one request (a listing of 100,000 clients takes well under that).
WAIT = 5.0

RpcHandler = Callable[[dict[str, Any]], Awaitable[Any]]


def _remade(cls: type[errors.DomainError]) -> Callable[[str, str], Exception]:
    return lambda message, resource: cls(message, resource=resource)


#: The domain errors that cross nodes, by class name: how the asking node raises each again (message,
#: resource). Parts add their own (:func:`crossing`); an unknown one arrives as a plain DomainError.
_ERRORS: dict[str, Callable[[str, str], Exception]] = {
    cls.__name__: _remade(cls)
    for cls in (
        errors.NotFound,
        errors.InvalidInput,
        errors.BadRequest,
        errors.Forbidden,
        errors.Conflict,
        errors.ServiceUnavailable,
        errors.DomainError,
    )
}


def crossing(name: str, make: Callable[[str, str], Exception]) -> None:
    """Raise the error class `name` again on the asking node with `make(message, resource)`."""
    _ERRORS[name] = make


class NodeUnreachable(errors.ServiceUnavailable):
    """A node did not answer a request in time (it stopped, or NATS is cut)."""

    def __init__(self, node: str, op: str) -> None:
        super().__init__(f"Node {node} did not answer ({op})", resource="cluster")
        self.node = node


def _error(doc: dict[str, Any]) -> Exception:
    make = _ERRORS.get(str(doc.get("kind")), _ERRORS["DomainError"])
    return make(str(doc.get("message", "")), str(doc.get("resource", "general")))


class Rpc:
    """This node's end of the requests: serve operations, call them on other nodes."""

    def __init__(self, node: ClusterNode, wait: float = WAIT) -> None:
        self.node = node
        self.wait = wait
        self._unsubscribe: list[Callable[[], Awaitable[None]]] = []

    @property
    def me(self) -> str:
        return self.node.name

    def peers(self) -> list[str]:
        """The other live nodes, by name."""
        return [n.name for n in self.node.membership.nodes if n.name != self.me]

    async def serve(self, op: str, handler: RpcHandler) -> None:
        """Answer `op` for the other nodes with `handler(body)` (its result must be JSON-serializable)."""

        async def answer(msg: Msg) -> None:
            try:
                result = await handler(orjson.loads(msg.data))
                reply = orjson.dumps({"ok": result})
            except errors.DomainError as exc:
                kind = type(exc).__name__
                error = {"kind": kind, "message": exc.message, "resource": exc.resource}
                reply = orjson.dumps({"error": error})
            except Exception as exc:  # answered, so the asking node does not wait out its timeout
                log.exception("cluster: rpc %s failed", op)
                reply = orjson.dumps({"error": {"kind": "DomainError", "message": f"{op} failed: {exc}"}})
            if msg.reply:
                await msg.respond(reply)

        self._unsubscribe.append(await self.node.bus.subscribe(f"{PREFIX}.{self.me}.{op}", answer))

    async def call(self, node: str, op: str, body: dict[str, Any]) -> Any:
        """`op` on `node`: its result, the domain error it raised, or NodeUnreachable."""
        try:
            data = await self.node.bus.request(f"{PREFIX}.{node}.{op}", orjson.dumps(body), self.wait)
        except (NatsError, TimeoutError):
            raise NodeUnreachable(node, op) from None
        answer = orjson.loads(data)
        if "error" in answer:
            raise _error(answer["error"])
        return answer.get("ok")

    async def call_each(
        self, op: str, body: dict[str, Any], nodes: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """`op` on every other live node (or on `nodes`) at once: node -> its result or the exception."""
        names = list(self.peers() if nodes is None else nodes)
        results = await asyncio.gather(*(self.call(n, op, body) for n in names), return_exceptions=True)
        return dict(zip(names, results, strict=True))

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            with contextlib.suppress(Exception):  # the connection may be closing
                await unsubscribe()
        self._unsubscribe.clear()
