"""What one node caches about credentials and access, dropped on every node when it changes anywhere
(docs/cluster.md, "Operating on any node").

Each service that keeps such a cache says what changed through its ``changed`` callback(s), with keys only
(a tenant, a user name, a key id): this module posts them on ``tether.invalidate.<kind>``; every other node
drops or re-reads what it holds for those keys, from the database, and ends what must end:

* ``credentials`` (a password, roles or groups changed; ``revoked``: the user was deleted or disabled, e.g.
  a retired device): the verified-credential and operator-token caches forget the user; a revoked user's
  MQTT connections on this node close (through the local ``users`` DELETE event, adapters/revocation.py);
* ``tenant`` (suspended, reactivated or deleted): the tenant status is read again; a suspended tenant's
  connections close (the local ``tenants`` event);
* ``bans``: the tenant's bans are read again and the connected clients they match are kicked;
* ``certificates``: the trusted CAs are read again (new ones trusted by the TLS listener at once);
* ``mqtt_users``, ``api_keys``, ``acl``, ``tokens``: the built-in MQTT users' verified passwords, API keys,
  authorization rules and operator-token logouts;
* ``rules``, ``connectors``: a tenant's rules, or its connectors and sink actions, are read again, since
  every node runs every rule on the messages it accepts, with sinks of its own (metrics stay per node).

Messages carry no domain objects, so this works whether or not domain events cross nodes (cluster/events.py):
a revoked user closed twice is closed once. PasswordChangeWatch's poll stays as the net for changes made
outside any node (`tether admin set-password`). NATS keeps nothing for a node cut off from it: once its
connection is back, the node reads again what has no expiry of its own (bans, certificates, logouts,
tenant status, authorization rules); verified credentials expire within their cache's minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson
from nats.errors import Error as NatsError

from tether.adapters.bans import kick_banned

from .bus import Msg
from .node import ClusterNode

if TYPE_CHECKING:
    from tether.broker import Broker
    from tether.services import Services

__all__ = ["Invalidation", "Settled"]

log = logging.getLogger("tether.cluster")

PREFIX = "tether.invalidate"
#: Seconds an HTTP answer waits at most for the other nodes to acknowledge the invalidations of its request.
ACK_WAIT = 2.0

#: The announcements the current HTTP request made (:class:`Settled`), None outside one.
_pending: ContextVar[list[asyncio.Task[None]] | None] = ContextVar("tether_invalidations", default=None)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Settled:
    """ASGI middleware (in a cluster): an HTTP answer is sent once every other live node has acknowledged
    the invalidations its request caused (at most ACK_WAIT), so that what the answer says is done holds on
    every node: a ban refuses the client everywhere, an old password fails everywhere."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: list[asyncio.Task[None]] = []
        token = _pending.set(pending)

        async def settled(message: MutableMapping[str, Any]) -> None:
            if pending and message["type"] == "http.response.start":
                tasks = list(pending)
                pending.clear()
                await asyncio.wait(tasks, timeout=ACK_WAIT)
            await send(message)

        try:
            await self.app(scope, receive, settled)
        finally:
            _pending.reset(token)


class Invalidation:
    def __init__(self, cluster: ClusterNode, services: Services, broker: Broker) -> None:
        self.cluster = cluster
        self.services = services
        self.broker = broker
        self._unsubscribe: Callable[[], Awaitable[None]] | None = None
        self._resyncing: asyncio.Task[None] | None = None
        self._announcing: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "credentials": self._credentials,
            "tenant": self._tenant,
            "bans": self._bans,
            "certificates": self._certificates,
            "mqtt_users": self._mqtt_users,
            "api_keys": self._api_keys,
            "acl": self._acl,
            "tokens": self._tokens,
            "rules": self._rules,
            "connectors": self._connectors,
        }

    def _post(self, kind: str, **keys: Any) -> None:
        """Announce a change to every other live node; an HTTP request's answer waits for their
        acknowledgements (:class:`Settled`)."""
        peers = len(self.cluster.membership.peers)
        if not peers:
            return
        data = orjson.dumps({"from": self.cluster.name, **keys})
        task = asyncio.get_running_loop().create_task(self._announce(f"{PREFIX}.{kind}", data, peers))
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)
        pending = _pending.get()
        if pending is not None:
            pending.append(task)

    async def _announce(self, subject: str, data: bytes, peers: int) -> None:
        """Publish, and wait (at most ACK_WAIT) until `peers` nodes acknowledged it."""
        nc = self.cluster.bus.client
        acks = None
        try:
            acks = await nc.subscribe(nc.new_inbox(), max_msgs=peers)
            await nc.publish(subject, data, reply=acks.subject)
            async with asyncio.timeout(ACK_WAIT):
                for _ in range(peers):
                    await acks.next_msg(timeout=ACK_WAIT)
        except (NatsError, TimeoutError) as exc:
            log.warning("cluster: %s not acknowledged by every node: %s", subject, str(exc) or "too late")
            if acks is not None:
                with contextlib.suppress(NatsError):
                    await acks.unsubscribe()
        except Exception:
            log.exception("cluster: announcing %s failed", subject)

    async def start(self) -> None:
        """Hear the other nodes, then tell them of this node's changes."""
        self._unsubscribe = await self.cluster.bus.subscribe(f"{PREFIX}.>", self._heard)
        self.cluster.bus.on_reconnected.append(self._reconnected)
        s = self.services
        s.tenants.credentials_changed = lambda t, u, revoked: self._post(
            "credentials", tenant=t, user=u, revoked=revoked
        )
        s.tenants.status_changed = lambda t, deleted: self._post("tenant", tenant=t, deleted=deleted)
        s.bans.changed = lambda t: self._post("bans", tenant=t)
        s.certificates.changed = lambda t: self._post("certificates", tenant=t)
        s.mqtt_users.changed = lambda t, u: self._post("mqtt_users", tenant=t, user=u)
        s.api_keys.changed = lambda key: self._post("api_keys", key=key)
        s.acl.changed = lambda t: self._post("acl", tenant=t)
        s.tokens.changed = lambda jti: self._post("tokens")
        s.rules.changed = lambda t: self._post("rules", tenant=t)
        s.connectors.changed = lambda t: self._post("connectors", tenant=t)

    def _reconnected(self) -> None:
        if self._resyncing is None or self._resyncing.done():
            self._resyncing = asyncio.get_running_loop().create_task(self.resync())

    async def resync(self) -> None:
        """Read again what may have changed while this node heard nothing."""
        s = self.services
        try:
            await s.bans.load()
            for ban in s.bans.in_force():
                kick_banned(self.broker, ban)
            await s.certificates.reload()
            await s.tokens.reload_revoked()
            await s.tenants.refresh_status()
            s.acl.forget()
        except Exception:  # the database is away too: the next reconnection tries again
            log.exception("cluster: reading the credentials again after a reconnection failed")

    async def close(self) -> None:
        if self._reconnected in self.cluster.bus.on_reconnected:
            self.cluster.bus.on_reconnected.remove(self._reconnected)
        if self._resyncing is not None:
            self._resyncing.cancel()
        s = self.services
        s.tenants.credentials_changed = lambda t, u, revoked: None
        s.tenants.status_changed = lambda t, deleted: None
        s.bans.changed = s.certificates.changed = s.acl.changed = s.tokens.changed = lambda key: None
        s.mqtt_users.changed = lambda t, u: None
        s.api_keys.changed = lambda key: None
        s.rules.changed = s.connectors.changed = lambda t: None
        if self._unsubscribe is not None:
            try:
                await self._unsubscribe()
            except Exception:  # the connection may be closing
                log.debug("cluster: unsubscribing the invalidations failed", exc_info=True)
            self._unsubscribe = None

    async def _heard(self, msg: Msg) -> None:
        body = orjson.loads(msg.data)
        if not isinstance(body, dict) or body.get("from") == self.cluster.name:
            return
        handler = self._handlers.get(msg.subject.rpartition(".")[2])
        try:
            if handler is not None:
                await handler(body)
        finally:
            if msg.reply:  # done here (or failed, logged): the announcing node need not wait
                await msg.respond(b"")

    # ---------------------------------------------------------------------------------------- kinds

    async def _credentials(self, body: dict[str, Any]) -> None:
        tenant_id, username = str(body["tenant"]), body.get("user")
        user = None if username is None else str(username)
        tenants = self.services.tenants
        if body.get("revoked") and user is not None:
            tenants.revoked_here(tenant_id, user)  # its connections here close (adapters/revocation.py)
        else:
            tenants.forget_here(tenant_id, user)
        self.services.tokens.forget(tenant_id, user)

    async def _tenant(self, body: dict[str, Any]) -> None:
        tenants = self.services.tenants
        if body.get("deleted"):
            tenants.deactivated_here(str(body["tenant"]), deleted=True)
        await tenants.refresh_status()  # suspended: its connections here close; reactivated: logins again

    async def _bans(self, body: dict[str, Any]) -> None:
        for ban in await self.services.bans.reload(str(body["tenant"])):
            kicked = kick_banned(self.broker, ban)
            if kicked:
                log.info("ban of %s %r: %d client(s) kicked on this node", ban.kind.value, ban.who, kicked)

    async def _certificates(self, body: dict[str, Any]) -> None:
        await self.services.certificates.reload()

    async def _mqtt_users(self, body: dict[str, Any]) -> None:
        self.services.mqtt_users.forget(str(body["tenant"]), str(body["user"]))

    async def _api_keys(self, body: dict[str, Any]) -> None:
        self.services.api_keys.forget(str(body["key"]))

    async def _acl(self, body: dict[str, Any]) -> None:
        self.services.acl.forget(str(body["tenant"]))

    async def _rules(self, body: dict[str, Any]) -> None:
        await self.services.rules.reload(str(body["tenant"]))

    async def _connectors(self, body: dict[str, Any]) -> None:
        await self.services.connectors.reload(str(body["tenant"]))

    async def _tokens(self, body: dict[str, Any]) -> None:
        await self.services.tokens.reload_revoked()
