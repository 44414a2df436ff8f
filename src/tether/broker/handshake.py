"""Connections still in their handshake: counted in total and per IP address, and capped.

A connection is *pending* from the moment the listener accepts it (before a TLS handshake or a WebSocket
upgrade) until its successful CONNACK or its end. Nobody has authenticated such a client, so their number is
bounded (`max_pending_connects`, `max_pending_connects_per_address`) as well as what each may buffer
(`max_connect_size`): beyond either count a new connection is closed at once, without reading from it.
Refusals are logged once per burst (a first line, then a summary once the burst is over), not per connection.
"""

from __future__ import annotations

import asyncio
import logging

from .hooks import ConnectionInfo

__all__ = ["Handshake", "HandshakeTicket", "PendingConnects", "address_of"]

log = logging.getLogger("tether.broker")

#: Seconds without a refusal after which a burst is over (and summarised).
BURST_QUIET = 10.0


def address_of(peername: object) -> str:
    """The IP address of a transport's ``peername`` (what the per-address limit counts)."""
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return "" if peername is None else str(peername)


class HandshakeTicket:
    """One admitted pending connection; :meth:`release` (idempotent) when its handshake is over."""

    __slots__ = ("_owner", "address")

    def __init__(self, owner: PendingConnects, address: str) -> None:
        self._owner: PendingConnects | None = owner
        self.address = address

    def release(self) -> None:
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner._release(self.address)


class Handshake:
    """What a client connection holds until its CONNACK (then it drops this object): where it comes from,
    its place among the pending connections and the CONNECT timeout (both released when the CONNECT
    arrives), the task waiting for the authenticate hook or a claimed session. One object while it lasts,
    rather than four slots of every connection for its lifetime."""

    __slots__ = ("info", "task", "ticket", "timer")

    def __init__(self, info: ConnectionInfo, ticket: HandshakeTicket | None) -> None:
        self.info = info
        self.ticket = ticket
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    def release(self) -> None:
        """The CONNECT arrived (or the connection ended): no more timeout, no more place to hold."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.ticket is not None:
            self.ticket.release()
            self.ticket = None

    def cancel(self) -> None:
        """The connection ended: release, and stop waiting for the hook or the session."""
        self.release()
        if self.task is not None:
            self.task.cancel()
            self.task = None


class PendingConnects:
    """The count of pending connections, in total and per address, against the configured limits."""

    __slots__ = (
        "_by_address",
        "_last",
        "_loop",
        "_refused",
        "_timer",
        "count",
        "per_address",
        "refused",
        "total",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, total: int, per_address: int) -> None:
        self._loop = loop
        self.total = total
        self.per_address = per_address
        self.count = 0
        #: Connections refused since the start (for monitoring).
        self.refused = 0
        # Only addresses with a pending connection: the dict does not grow with the addresses ever seen.
        self._by_address: dict[str, int] = {}
        self._refused = 0  # in the current burst
        self._last = 0.0  # time of the last refusal
        self._timer: asyncio.TimerHandle | None = None

    def admit(self, address: str) -> HandshakeTicket | None:
        """A ticket for a new connection from ``address``, or ``None``: close it at once."""
        if self.count >= self.total:
            self._refuse(f"{self.count} connections in their handshake (max_pending_connects)")
            return None
        by_address = self._by_address
        n = by_address.get(address, 0)
        if n >= self.per_address:
            self._refuse(
                f"{n} connections from {address} in their handshake (max_pending_connects_per_address)"
            )
            return None
        by_address[address] = n + 1
        self.count += 1
        return HandshakeTicket(self, address)

    def pending(self, address: str) -> int:
        return self._by_address.get(address, 0)

    def _release(self, address: str) -> None:
        self.count -= 1
        by_address = self._by_address
        n = by_address[address] - 1
        if n:
            by_address[address] = n
        else:
            del by_address[address]

    def _refuse(self, why: str) -> None:
        self.refused += 1
        self._refused += 1
        self._last = self._loop.time()
        if self._timer is None:
            log.warning("MQTT: %s: closing new connections (logged once per burst)", why)
            self._timer = self._loop.call_later(BURST_QUIET, self._check_burst)

    def _check_burst(self) -> None:
        quiet_since = self._last + BURST_QUIET
        now = self._loop.time()
        if now < quiet_since:
            self._timer = self._loop.call_at(quiet_since, self._check_burst)
            return
        self._timer = None
        log.warning("MQTT: burst over: %d connections closed over the handshake limits", self._refused)
        self._refused = 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
