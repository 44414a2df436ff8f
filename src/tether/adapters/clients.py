"""One tenant's MQTT clients in the running broker, for the management API (/api/v5/clients and
/api/v5/subscriptions; docs/protocols.md section 8): list them with their connection, session, queue,
in-flight and traffic figures, kick them, and subscribe or unsubscribe on behalf of an online client.

Everything is read from the broker's own registries (its sessions and their subscriptions) under the tenant's
mountpoint (:mod:`.namespaces`): an operator sees its own tenant's clients only, and topics as they see them.
A proxy subscription is the client's own: the broker's hooks authorize it as if the client had sent the
SUBSCRIBE, and messages on the topic reach the device as to any subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from tether.adapters.presence import ClientStatus, Presence
from tether.broker.mountpoints import client_prefix
from tether.broker.subscriptions import Subscription
from tether.core import errors
from tether.mqtt.packets import RetainHandling, SubscriptionOptions
from tether.mqtt.reason_codes import ReasonCode
from tether.mqtt.topics import matches, parse_shared_subscription, topic_filter_problem, topic_name_problem

if TYPE_CHECKING:
    from tether.broker import Broker
    from tether.broker.ports import Connection
    from tether.broker.sessions import Session

__all__ = [
    "ClientDetails",
    "ClientFilter",
    "ClientNotFound",
    "InvalidSubscription",
    "SubscribeRefused",
    "SubscriptionFilter",
    "SubscriptionView",
    "TenantClients",
]

R = "clients"

ConnState = Literal["connected", "idle", "disconnected"]


class ClientNotFound(errors.NotFound):
    """No session (or, where one must be online, no connection) of this client id in the tenant."""

    def __init__(self, client_id: str) -> None:
        super().__init__("Client ID not found", resource=R)  # EMQX's message
        self.client_id = client_id


class InvalidSubscription(errors.InvalidInput):
    """A topic filter or subscription options the client could not have subscribed with."""


class SubscribeRefused(errors.Forbidden):
    """The client's authorization (its ACL rules) does not let it subscribe to the filter."""


@dataclass(frozen=True, slots=True)
class ClientFilter:
    """What a client listing keeps (every given condition holds; repeated ids or names: any of them)."""

    client_ids: frozenset[str] = frozenset()
    usernames: frozenset[str] = frozenset()
    ip_address: str | None = None
    conn_state: ConnState | None = None
    clean_start: bool | None = None
    proto_ver: int | None = None
    like_clientid: str | None = None
    like_username: str | None = None
    #: Wall-clock seconds, inclusive bounds.
    gte_created_at: float | None = None
    lte_created_at: float | None = None
    gte_connected_at: float | None = None
    lte_connected_at: float | None = None


@dataclass(frozen=True, slots=True)
class ClientDetails:
    """One client as the management API shows it; times are wall-clock seconds."""

    client_id: str
    username: str | None
    host: str | None
    port: int | None
    listener: str | None
    proto_ver: int | None
    connected: bool
    clean_start: bool | None
    keep_alive: int | None
    expiry_interval: int
    created_at: float
    connected_at: float | None
    disconnected_at: float | None
    mountpoint: str
    subscriptions: int
    inflight: int
    inflight_max: int | None
    queued: int
    queue_max: int
    queue_dropped: int
    awaiting_rel: int
    awaiting_rel_max: int
    recv_oct: int = 0
    recv_pkt: int = 0
    recv_msg: int = 0
    send_oct: int = 0
    send_msg: int = 0
    node: str = ""  # the node holding it (in a cluster, docs/cluster.md)


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """One subscription, its topic filter as the client subscribed it."""

    client_id: str
    topic: str
    qos: int
    no_local: bool
    retain_as_published: bool
    retain_handling: int
    node: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    client_id: str | None = None
    topic: str | None = None
    qos: int | None = None
    share_group: str | None = None
    #: A topic name the subscription's filter matches.
    match_topic: str | None = None


def split_peer(peer: str | None) -> tuple[str | None, int | None]:
    """`host:port` / `[v6]:port` -> (host, port)."""
    if not peer:
        return None, None
    host, _, port = peer.rpartition(":")
    if not host:
        return peer, None
    if host.startswith("["):
        host = host[1:-1]
    return host, int(port) if port.isdigit() else None


class TenantClients:
    """The clients of one mountpoint (a tenant's) in `broker`; `presence` (the platform hooks' record) tells
    who an offline session's client was."""

    def __init__(
        self, broker: Broker, mountpoint: str, presence: Presence | None = None, node: str = ""
    ) -> None:
        self.broker = broker
        self.mountpoint = mountpoint
        self.presence = presence
        self.node = node

    # ------------------------------------------------------------------------------------ reading

    def _sessions(self) -> Iterator[tuple[str, Session, Connection | None]]:
        """(client id, session, its connection if online) of every session in the mountpoint."""
        mountpoint = self.mountpoint
        skip = len(mountpoint)
        for session in self.broker.sessions:
            key = session.client_id
            if not key.startswith(mountpoint):
                continue
            owner = session.owner
            if owner is not None:
                connection: Connection = owner  # type: ignore[assignment]
                client = connection.client
                if client is None or client.mountpoint != mountpoint:
                    continue
                yield key[skip:], session, connection
            elif mountpoint or not key.startswith("$"):
                yield key[skip:], session, None

    def _status(self, client_id: str) -> ClientStatus | None:
        return None if self.presence is None else self.presence.get(self.mountpoint, client_id)

    def _predicate(self, where: ClientFilter) -> Callable[[str, Session], bool]:
        status_of = self._status

        def keep(client_id: str, session: Session) -> bool:
            # The checks on the client id first: they touch no other object (a listing visits every client).
            if where.client_ids and client_id not in where.client_ids:
                return False
            if where.like_clientid is not None and where.like_clientid not in client_id:
                return False
            connection: Connection | None = session.owner  # type: ignore[assignment]
            if where.conn_state is not None and (where.conn_state == "connected") != (connection is not None):
                return False
            if where.gte_created_at is not None and session.created_at < where.gte_created_at:
                return False
            if where.lte_created_at is not None and session.created_at > where.lte_created_at:
                return False
            if connection is not None:
                client = connection.client
                assert client is not None
                username, peer = client.username, client.peer
                proto: int | None = client.protocol_version
                clean_start: bool | None = connection.clean_start
                connected_at: float | None = connection.connected_at
            else:
                status = status_of(client_id)
                username = status.username if status is not None else None
                peer = status.peer if status is not None else None
                proto = status.protocol if status is not None else None
                clean_start = False  # an offline session outlived its connection: Clean Start had no effect
                connected_at = status.connected_at / 1000 if status is not None else None
            if where.usernames and username not in where.usernames:
                return False
            if where.like_username is not None and (username is None or where.like_username not in username):
                return False
            if where.ip_address is not None and split_peer(peer)[0] != where.ip_address:
                return False
            if where.proto_ver is not None and proto != where.proto_ver:
                return False
            if where.clean_start is not None and clean_start != where.clean_start:
                return False
            if where.gte_connected_at is not None or where.lte_connected_at is not None:
                if connected_at is None:
                    return False
                if where.gte_connected_at is not None and connected_at < where.gte_connected_at:
                    return False
                if where.lte_connected_at is not None and connected_at > where.lte_connected_at:
                    return False
            return True

        return keep

    def _candidates(self, where: ClientFilter) -> list[Session]:
        """The sessions of the mountpoint (those of `where.client_ids` only, when given). A plain
        comprehension: this visits every session of the broker."""
        mountpoint = self.mountpoint
        sessions = self.broker.sessions
        if where.client_ids:
            found = (sessions.get(mountpoint + client_id) for client_id in sorted(where.client_ids))
            candidates = [session for session in found if session is not None]
        elif where.usernames and self.presence is not None:
            # The clients that used one of the names (a superset: the predicate checks each); a session
            # without a status record has no user name to match. In the listing's order: creation.
            ids = set().union(*(self.presence.client_ids_of(mountpoint, u) for u in where.usernames))
            found = (sessions.get(mountpoint + client_id) for client_id in ids)
            candidates = sorted((s for s in found if s is not None), key=lambda s: s.created_at)
        else:
            candidates = [session for session in sessions if session.client_id.startswith(mountpoint)]
        # By the key (mountpoint + client id) alone: reading every session's connection here would cost more
        # than the rest of the listing. Single-client operations also check the connection's mountpoint.
        return candidates

    async def page(self, where: ClientFilter, offset: int, limit: int) -> tuple[list[ClientDetails], int]:
        """One page of the clients `where` keeps (in the order their sessions were created) and how many it
        keeps in all."""
        skip = len(self.mountpoint)
        connection_of = self.broker.connection_of
        candidates = self._candidates(where)
        if replace(where, client_ids=frozenset()) != ClientFilter():
            keep = self._predicate(where)
            candidates = [session for session in candidates if keep(session.client_id[skip:], session)]
        chosen = candidates[offset : offset + limit]
        details = [
            self._details(session.client_id[skip:], session, connection_of(session.client_id))
            for session in chosen
        ]
        return details, len(candidates)

    async def get(self, client_id: str) -> ClientDetails:
        session = self.broker.sessions.get(self.mountpoint + client_id)
        if session is None:
            raise ClientNotFound(client_id)
        connection = self.broker.connection_of(session.client_id)
        if connection is not None and (
            connection.client is None or connection.client.mountpoint != self.mountpoint
        ):
            raise ClientNotFound(client_id)
        return self._details(client_id, session, connection)

    def _details(self, client_id: str, session: Session, connection: Connection | None) -> ClientDetails:
        outbox = session.outbox
        max_rel = self.broker.config.receive_maximum
        common = {
            "client_id": client_id,
            "expiry_interval": session.expiry_interval,
            "created_at": session.created_at,
            "mountpoint": self.mountpoint,
            "subscriptions": len(session.subscriptions),
            "inflight": len(outbox.inflight),
            "queued": len(outbox.queue),
            "queue_max": outbox.max_queued,
            "queue_dropped": outbox.dropped,
            "awaiting_rel": len(session.awaiting_rel),
            "awaiting_rel_max": max_rel,
            "node": self.node,
        }
        if connection is not None:
            client = connection.client
            assert client is not None
            host, port = split_peer(client.peer)
            traffic = connection.traffic
            return ClientDetails(
                username=client.username,
                host=host,
                port=port,
                listener=client.listener,
                proto_ver=client.protocol_version,
                connected=True,
                clean_start=connection.clean_start,
                keep_alive=connection.keep_alive,
                connected_at=connection.connected_at,
                disconnected_at=None,
                inflight_max=connection.receive_maximum,
                recv_oct=traffic.recv_oct,
                recv_pkt=traffic.recv_pkt,
                recv_msg=traffic.recv_msg,
                send_oct=traffic.send_oct,
                send_msg=traffic.send_msg,
                **common,  # type: ignore[arg-type]
            )
        status = self._status(client_id)
        host, port = split_peer(status.peer if status is not None else None)
        return ClientDetails(
            username=status.username if status is not None else None,
            host=host,
            port=port,
            listener=status.listener if status is not None else None,
            proto_ver=status.protocol if status is not None else None,
            connected=False,
            clean_start=False,
            keep_alive=None,
            connected_at=status.connected_at / 1000 if status is not None else None,
            disconnected_at=session.disconnected_at or None,
            inflight_max=None,
            **common,  # type: ignore[arg-type]
        )

    # ------------------------------------------------------------------------------------ kick

    async def kick(self, client_id: str) -> bool:
        """Disconnect the client (MQTT 5: DISCONNECT 0x98 Administrative action, spec 3.14.2.1) and discard
        its session; the disconnect is recorded as `kicked` (:func:`.presence.reason_name`). False: no such
        client."""
        key = self.mountpoint + client_id
        connection = self.broker.connection_of(key)
        if connection is not None and (
            connection.client is None or connection.client.mountpoint != self.mountpoint
        ):
            return False
        return self.broker.kick(key, ReasonCode.ADMINISTRATIVE_ACTION)

    # ------------------------------------------------------------------------------------ subscriptions

    def _unmount(self, client_id: str, topic_filter: str) -> str:
        share = parse_shared_subscription(topic_filter)
        inner = share.topic_filter if share is not None else topic_filter
        private = client_prefix(self.mountpoint, client_id)
        if inner.startswith(private):
            inner = inner[len(private) :]
        elif inner.startswith(self.mountpoint):
            inner = inner[len(self.mountpoint) :]
        return inner if share is None else f"$share/{share.share_name}/{inner}"

    def _view(self, client_id: str, sub: Subscription) -> SubscriptionView:
        return SubscriptionView(
            client_id,
            self._unmount(client_id, sub.topic_filter),
            sub.qos,
            sub.no_local,
            sub.retain_as_published,
            int(sub.retain_handling),
            self.node,
        )

    async def subscriptions_of(self, client_id: str) -> list[SubscriptionView]:
        details = await self.get(client_id)  # ClientNotFound
        session = self.broker.sessions.get(self.mountpoint + details.client_id)
        assert session is not None
        return [self._view(client_id, sub) for sub in session.subscriptions.values()]

    def _online(self, client_id: str) -> Connection:
        connection = self.broker.connection_of(self.mountpoint + client_id)
        if connection is None or connection.client is None or connection.client.mountpoint != self.mountpoint:
            raise ClientNotFound(client_id)
        return connection

    async def check_subscription(self, client_id: str, topic_filter: str, qos: int, no_local: bool) -> None:
        """Raise unless the online client may subscribe to `topic_filter` (as it would send it)."""
        connection = self._online(client_id)
        problem = topic_filter_problem(topic_filter)
        if problem is not None:
            raise InvalidSubscription(f"Invalid topic filter {topic_filter!r}: {problem}", resource=R)
        if no_local and parse_shared_subscription(topic_filter) is not None:
            # [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
            raise InvalidSubscription("'nl' is not allowed on a shared subscription", resource=R)
        client = connection.client
        assert client is not None
        if not self.broker.hooks.authorize_subscribe(client, topic_filter, qos):
            raise SubscribeRefused(f"Client {client_id!r} may not subscribe to {topic_filter!r}", resource=R)

    async def subscribe(
        self,
        client_id: str,
        topic_filter: str,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
    ) -> SubscriptionView:
        """Subscribe the online client as if it had sent the SUBSCRIBE (its ACL applies; retained messages
        are sent per Retain Handling, spec 3.3.1.3); replaces its subscription to the same filter."""
        await self.check_subscription(client_id, topic_filter, qos, no_local)
        connection = self._online(client_id)
        client, session = connection.client, connection.session
        assert client is not None and session is not None
        mount = connection.mount
        mounted = topic_filter if mount is None else mount.filter(topic_filter)
        options = SubscriptionOptions(qos, no_local, retain_as_published, RetainHandling(retain_handling))
        sub = Subscription.from_options(session.client_id, mounted, options, None)
        broker = self.broker
        old = broker.subscribe(session, sub)
        if sub.share_name is None and (retain_handling == 0 or (retain_handling == 1 and old is None)):
            broker.send_retained(session, sub)
        broker.hooks.on_subscribed(client, topic_filter, sub.qos)
        settled = broker.interest_settled() if broker.interest_settled is not None else None
        if settled is not None:  # a cluster: answered once every node routes to it, as a SUBACK
            await settled
        return self._view(client_id, sub)

    async def unsubscribe(self, client_id: str, topic_filter: str) -> bool:
        """Remove the online client's subscription to the filter (as it subscribed it); whether it had one."""
        connection = self._online(client_id)
        client, session = connection.client, connection.session
        assert client is not None and session is not None
        mount = connection.mount
        mounted = topic_filter if mount is None else mount.filter(topic_filter)
        if not self.broker.unsubscribe(session, mounted):
            return False
        self.broker.hooks.on_unsubscribed(client, topic_filter)
        return True

    async def all_subscriptions(
        self, where: SubscriptionFilter, offset: int, limit: int
    ) -> tuple[list[SubscriptionView], int]:
        """One page of the subscriptions of every session of the tenant `where` keeps, and how many in all."""
        if where.match_topic is not None and topic_name_problem(where.match_topic) is not None:
            raise InvalidSubscription(f"Invalid topic name {where.match_topic!r}", resource=R)
        found: list[SubscriptionView] = []
        total = 0
        end = offset + limit
        for client_id, session, _ in self._sessions():
            if where.client_id is not None and client_id != where.client_id:
                continue
            for sub in session.subscriptions.values():
                if where.qos is not None and sub.qos != where.qos:
                    continue
                if where.share_group is not None and sub.share_name != where.share_group:
                    continue
                view = self._view(client_id, sub)
                if where.topic is not None and view.topic != where.topic:
                    continue
                if where.match_topic is not None:
                    share = parse_shared_subscription(view.topic)
                    if not matches(
                        share.topic_filter if share is not None else view.topic, where.match_topic
                    ):
                        continue
                if offset <= total < end:
                    found.append(view)
                total += 1
        return found, total
