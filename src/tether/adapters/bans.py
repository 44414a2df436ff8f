"""Bans at the broker (credentials/banning.py): who a client is to the bans, and kicking the connected clients
a new ban matches (MQTT 5: DISCONNECT 0x98 Administrative action, spec 3.14.2.1; 3.1.1: the connection is
closed). Refusing banned clients at CONNECT is the platform hooks' (adapters/access.py)."""

from __future__ import annotations

from tether.adapters.login import login_of
from tether.broker import Broker, ClientInfo
from tether.credentials.bans import Ban, Candidate
from tether.mqtt.reason_codes import ReasonCode

__all__ = ["candidate", "host_of", "kick_banned"]


def host_of(peer: str | None) -> str | None:
    """The address part of `host:port` / `[v6]:port`."""
    if not peer:
        return None
    if peer.startswith("["):
        return peer[1 : peer.find("]")]
    return peer.rpartition(":")[0] or peer


def candidate(
    client_id: str, username: str | None, tenant_username: str | None, peer: str | None
) -> Candidate:
    """`username` as the client sent it (`t1/alice`), `tenant_username` its name inside the tenant (`alice`):
    a ban of either user name applies."""
    names = tuple(dict.fromkeys(n for n in (tenant_username, username) if n))
    return Candidate(client_id, names, host_of(peer))


def kick_banned(broker: Broker, ban: Ban) -> int:
    """Disconnect the tenant's connected clients the ban matches; how many."""

    def select(client: ClientInfo) -> bool:
        login = login_of(client)
        if login is None or login.principal.tenant_id != ban.tenant_id:
            return False
        return ban.matches(
            candidate(client.client_id, client.username, login.principal.username, client.peer)
        )

    return broker.disconnect_clients(select, ReasonCode.ADMINISTRATIVE_ACTION)
