"""What a client connection tells about itself that it does not keep in a slot of its own (a mixin of
:class:`~tether.broker.client.ClientConnection`): read from its ClientInfo once the CONNECT is accepted, or
copied from its counters. An idle connection keeps one object less per fact."""

from __future__ import annotations

from .handshake import Handshake
from .hooks import ClientInfo, ConnectionInfo
from .stats import Traffic

__all__ = ["ConnectionFacts"]


class ConnectionFacts:
    """Mixed into :class:`~tether.broker.client.ClientConnection`, which provides the attributes below."""

    __slots__ = ()

    _pending: Handshake | None
    client: ClientInfo | None
    recv_oct: int
    recv_pkt: int
    recv_msg: int
    send_oct: int
    send_msg: int

    @property
    def info(self) -> ConnectionInfo:
        """Where the connection comes from (listener, peer, TLS client certificate)."""
        pending = self._pending
        if pending is not None:
            return pending.info
        client = self.client
        assert client is not None
        return ConnectionInfo(client.listener, client.peer, client.certificate)

    @property
    def connected_at(self) -> float:
        """When the CONNECT was accepted (wall clock; 0 before)."""
        client = self.client
        return client.connected_at if client is not None else 0.0

    @property
    def clean_start(self) -> bool:
        """The accepted CONNECT's Clean Start (3.1.1: Clean Session)."""
        client = self.client
        return client.clean_start if client is not None else True

    @property
    def traffic(self) -> Traffic:
        """A copy of the connection's counters."""
        traffic = Traffic()
        traffic.recv_oct = self.recv_oct
        traffic.recv_pkt = self.recv_pkt
        traffic.recv_msg = self.recv_msg
        traffic.send_oct = self.send_oct
        traffic.send_msg = self.send_msg
        return traffic
