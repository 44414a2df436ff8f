"""The broker's connection events -> the presence service (tether.presence): every connection of a tenant's
client (the login tells the tenant and the device) is recorded; anonymous clients belong to no tenant and
are not."""

from __future__ import annotations

import sys

from tether.adapters.access import PlatformHooks
from tether.adapters.login import Login, login_of
from tether.broker import ClientInfo
from tether.mqtt.reason_codes import ReasonCode
from tether.presence.models import ConnectionFact, disconnect_reason
from tether.presence.service import PresenceService

__all__ = ["install"]


def _host(peer: str | None) -> str | None:
    # Interned: many devices share an address (NAT, a gateway), and each record keeps it while connected.
    if not peer:
        return None
    if peer.startswith("["):
        return sys.intern(peer[1 : peer.find("]")])
    return sys.intern(peer.rpartition(":")[0] or peer)


def _fact(client: ClientInfo, login: Login) -> ConnectionFact:
    # The same at the end as at connect: connected_at is the broker's, of the accepted CONNECT.
    return ConnectionFact(
        tenant_id=login.principal.tenant_id,
        client_id=client.client_id,
        username=client.username,
        device=login.serial,
        mo_id=login.mo_id,
        ip_address=_host(client.peer),
        proto_ver=client.protocol_version,
        clean_start=client.clean_start,
        keepalive=client.keep_alive,
        connected_at=int(client.connected_at * 1000),
    )


class PresenceFeed:
    """The live entry of a connection is its login's Activity (Login.activity): no map of its own from
    connections to history records, and no record kept while connected (its fields are the ClientInfo's)."""

    def __init__(self, presence: PresenceService) -> None:
        self.presence = presence

    def on_connected(self, client: ClientInfo, session_present: bool) -> None:
        login = login_of(client)
        if login is not None:
            self.presence.connected(_fact(client, login), login.activity)

    def on_disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        login = login_of(client)
        if login is not None and login.activity.seq is not None:
            code = int(reason)
            name = reason.name if isinstance(reason, ReasonCode) else None
            self.presence.disconnected(_fact(client, login), login.activity, disconnect_reason(code, name))


def install(hooks: PlatformHooks, presence: PresenceService) -> PresenceFeed:
    feed = PresenceFeed(presence)
    hooks.listen(on_connected=feed.on_connected, on_disconnected=feed.on_disconnected)
    return feed
