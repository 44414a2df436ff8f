"""Who is online: one record per MQTT client (per tenant namespace and client id), kept in memory from the
broker's connection events, for the management API's client listing (/api/v5/clients).

While a client is connected its record is the broker's ClientInfo itself (nothing of its own); at the
disconnection it becomes a ClientStatus, which outlives the connection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tether.adapters.login import login_of
from tether.broker import ClientInfo
from tether.core.clock import now_ms

__all__ = ["ClientStatus", "Presence", "reason_name"]

#: EMQX's names of why a client disconnected (its `client.disconnected` reasons), by the DISCONNECT reason
#: code the broker reports (tether.broker.hooks.Hooks.on_disconnected; spec 3.14.2.1).
_REASON_NAMES = {
    0x00: "normal",
    0x04: "normal",
    0x80: "tcp_closed",
    0x81: "frame_error",
    0x82: "protocol_error",
    0x87: "not_authorized",
    0x8B: "shutdown",
    0x8D: "keepalive_timeout",
    0x8E: "takenover",
    0x93: "receive_maximum_exceeded",
    0x95: "packet_too_large",
    0x98: "kicked",
    0xA0: "connack_timeout",
}


def reason_name(code: int) -> str:
    """The name of a disconnect reason code: 0x98 Administrative action (an operator's kick, a revoked
    credential) is `kicked`; a code without a name of its own is `internal_error`."""
    return _REASON_NAMES.get(code, "internal_error")


@dataclass(slots=True)
class ClientStatus:
    client_id: str
    mountpoint: str
    username: str | None
    tenant_id: str | None
    peer: str | None
    listener: str
    protocol: int  # 4 = MQTT 3.1.1, 5 = MQTT 5.0
    connected: bool
    connected_at: int  # ms since the epoch
    disconnected_at: int | None = None
    reason: int | None = None  # the disconnect reason code
    reason_name: str | None = None  # its name (`kicked`, `normal`, ...: see reason_name())


def _status(client: ClientInfo) -> ClientStatus:
    """The record of a connected client."""
    login = login_of(client)
    return ClientStatus(
        client.client_id,
        client.mountpoint,
        client.username,
        login.principal.tenant_id if login is not None else None,
        client.peer,
        client.listener,
        client.protocol_version,
        True,
        int(client.connected_at * 1000),
    )


class Presence:
    """Bounded: beyond `max_offline` records of disconnected clients, the oldest are forgotten.

    Records are kept per mountpoint (mountpoint -> client id -> record), so that a connection costs a dict
    entry under strings it already has, not a (mountpoint, client id) key of its own."""

    def __init__(self, max_offline: int = 100_000) -> None:
        self.max_offline = max_offline
        # A connected client's record is its ClientInfo; a disconnected one's a ClientStatus.
        self._clients: dict[str, dict[str, ClientInfo | ClientStatus]] = {}
        self._offline = 0
        #: mountpoint -> username -> the client ids of its records: `GET /clients?username=` visits those
        #: instead of every session.
        #: One client id as a str (the usual case: a device user has one connection; a set costs 216
        #: bytes), a set for more.
        self._by_username: dict[str, dict[str, str | set[str]]] = {}

    def connected(self, client: ClientInfo) -> None:
        mountpoint, client_id, username = client.mountpoint, client.client_id, client.username
        clients = self._clients.get(mountpoint)
        if clients is None:
            clients = self._clients[mountpoint] = {}
        previous = clients.pop(client_id, None)  # re-inserted: the dict stays in order of last change
        if previous is not None:
            if isinstance(previous, ClientStatus):
                self._offline -= 1
            self._unindex(mountpoint, client_id, previous.username)
        if username is not None:
            index = self._by_username.get(mountpoint)
            if index is None:
                index = self._by_username[mountpoint] = {}
            ids = index.get(username)
            if ids is None:
                index[username] = client_id
            elif isinstance(ids, str):
                if ids != client_id:
                    index[username] = {ids, client_id}
            else:
                ids.add(client_id)
        clients[client_id] = client

    def disconnected(self, client: ClientInfo, reason: int) -> None:
        clients = self._clients.get(client.mountpoint)
        # A session taken over: the new connection's record stays.
        if clients is None or clients.get(client.client_id) is not client:
            return
        status = _status(client)
        status.connected = False
        status.disconnected_at = now_ms()
        status.reason = reason
        status.reason_name = reason_name(reason)
        clients[client.client_id] = status
        self._offline += 1
        if self._offline > self.max_offline:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        # The oldest offline records (by disconnection) until a quarter of max_offline is free.
        records = (s for clients in self._clients.values() for s in clients.values())
        offline = sorted(
            (s for s in records if isinstance(s, ClientStatus)), key=lambda s: s.disconnected_at or 0
        )
        for old in offline:
            clients = self._clients[old.mountpoint]
            del clients[old.client_id]
            if not clients:
                del self._clients[old.mountpoint]
            self._unindex(old.mountpoint, old.client_id, old.username)
            self._offline -= 1
            if self._offline <= self.max_offline * 3 // 4:
                break

    def _unindex(self, mountpoint: str, client_id: str, username: str | None) -> None:
        if username is None:
            return
        index = self._by_username.get(mountpoint)
        ids = index.get(username) if index is not None else None
        if index is None or ids is None:
            return
        if isinstance(ids, str):
            if ids == client_id:
                del index[username]
        else:
            ids.discard(client_id)
            if not ids:
                del index[username]
        if not index:
            del self._by_username[mountpoint]

    def client_ids_of(self, mountpoint: str, username: str) -> frozenset[str]:
        """The client ids whose record (online, or offline and not yet forgotten) names `username`."""
        ids = self._by_username.get(mountpoint, {}).get(username, ())
        return frozenset((ids,)) if isinstance(ids, str) else frozenset(ids)

    def get(self, mountpoint: str, client_id: str) -> ClientStatus | None:
        """The client's record (of a connected client: a snapshot)."""
        clients = self._clients.get(mountpoint)
        found = clients.get(client_id) if clients is not None else None
        return _status(found) if isinstance(found, ClientInfo) else found

    def __iter__(self) -> Iterator[ClientStatus]:
        return iter(
            [
                _status(s) if isinstance(s, ClientInfo) else s
                for clients in self._clients.values()
                for s in clients.values()
            ]
        )

    def __len__(self) -> int:
        return sum(len(clients) for clients in self._clients.values())
