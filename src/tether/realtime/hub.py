"""The hub: domain events in, per-client message buffers out, with tenant isolation and idle expiry.

Runs on the event loop of the services that publish: `publish` is an EventBus handler and must be called on
that loop (it wakes waiters). It never blocks: it renders, appends to bounded buffers and returns.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from tether.core.events import DomainEvent, EventBus
from tether.realtime.access import ReadRights, View
from tether.realtime.channels import Endpoint, Target, targets, validate
from tether.realtime.errors import BayeuxError, forbidden, unknown_client
from tether.realtime.sessions import Message, Session
from tether.tenants.models import Principal, Role

log = logging.getLogger(__name__)

Renderer = Callable[[str, Any], Mapping[str, Any]]
"""(base_url, domain object) -> the object's JSON document, e.g. render.managed_object."""

LISTENING_ROLES = frozenset({Role.ADMIN, Role.DEVICE})


class Hub:
    """Client sessions, subscriptions and fan-out of DomainEvents to Bayeux channels.

    Times are in seconds. `timeout`: how long a /meta/connect is held without data; `max_timeout`: the most
    a client may ask for in its advice; `idle_window`: how long a client may stay away between connects
    before it is forgotten; `buffer_size`: messages kept per client between connects (oldest dropped).
    """

    def __init__(
        self,
        events: EventBus,
        renderers: Mapping[str, Renderer] | None = None,
        *,
        timeout: float = 10.0,
        max_timeout: float = 600.0,
        interval: float = 0.0,
        idle_window: float = 10.0,
        buffer_size: int = 1000,
        max_subscriptions: int = 1000,
        max_clients_per_user: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.renderers: dict[str, Renderer] = dict(renderers or {})
        self.timeout = timeout
        self.max_timeout = max_timeout
        self.interval = interval
        self.idle_window = idle_window
        self.buffer_size = buffer_size
        self.max_subscriptions = max_subscriptions
        self.max_clients_per_user = max_clients_per_user
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._by_owner: dict[tuple[str, str], set[Session]] = {}
        # (tenant, endpoint, subscription) -> sessions: one lookup per channel, never a scan of all clients.
        self._subscribers: dict[tuple[str, Endpoint, str], set[Session]] = {}
        # tenant -> how many of its channels have subscribers: events of a tenant nobody listens to cost one
        # lookup (device ingest announces every measurement; bench/README.md, smartrest_ingest.py).
        self._channels: dict[str, int] = {}
        # tenant -> user -> what that (non-admin) user may read; followed through the inventory's events.
        self._views: dict[str, dict[str, View]] = {}
        # In a cluster the other nodes' events too: this node's clients hear everything (docs/cluster.md).
        self._events = events
        self._unsubscribe_bus: Callable[[], None] | None = events.subscribe(
            self.publish,
            wants=lambda tenant: tenant in self._channels or tenant in self._views,
            cluster=True,
            tenants=lambda: self._channels.keys() | self._views.keys(),
        )

    # -- configuration -------------------------------------------------------------------------------------

    def register_renderer(self, resource: str, renderer: Renderer) -> None:
        self.renderers[resource] = renderer

    def __len__(self) -> int:
        return len(self._sessions)

    # -- sessions ------------------------------------------------------------------------------------------

    def handshake(
        self, principal: Principal, endpoint: Endpoint, base_url: str, *, timeout: float | None = None
    ) -> Session:
        """A new session for `principal`; `timeout` is the client's advice for its connects (capped)."""
        if not (principal.roles & LISTENING_ROLES or principal.is_scoped):
            # the bootstrap user only fetches device credentials; a person with inventory roles hears what
            # they reach (api/c8y/realtime.py)
            raise forbidden()
        owner = (principal.tenant_id, principal.username)
        mine = self._by_owner.get(owner, set())
        for stale in [s for s in mine if self._idle(s)]:
            self._expire(stale)
        if len(self._by_owner.get(owner, ())) >= self.max_clients_per_user:
            raise BayeuxError(403, "Too many clients for this user", reconnect="none")
        session = Session(
            secrets.token_urlsafe(24),
            principal.tenant_id,
            principal.username,
            endpoint,
            base_url,
            buffer_size=self.buffer_size,
            timeout=self.connect_timeout(timeout),
            now=self._clock(),
            admin=principal.is_admin,
        )
        self._sessions[session.client_id] = session
        self._by_owner.setdefault(owner, set()).add(session)
        self._arm(session)
        return session

    def find(self, client_id: object, principal: Principal | None, endpoint: Endpoint) -> Session | None:
        """The live session `client_id` if `principal` created it on this endpoint family, else None."""
        if not isinstance(client_id, str) or principal is None:
            return None
        session = self._sessions.get(client_id)
        if session is None:
            return None
        if session.owner != (principal.tenant_id, principal.username) or session.endpoint is not endpoint:
            return None  # indistinguishable from an unknown id: ids of others are not confirmed
        if self._idle(session):
            self._expire(session)
            return None
        session.last_seen = self._clock()
        return session

    def connect_timeout(self, advised: float | None) -> float:
        """How long to hold a connect: the client's advice within [0, max_timeout], else the default."""
        if advised is None:
            return self.timeout
        return min(max(advised, 0.0), self.max_timeout)

    async def watch(self, session: Session, principal: Principal, rights: ReadRights) -> None:
        """Give a non-admin session the view of what its user may read (loaded once per user), before it
        subscribes: until then the hub delivers it nothing."""
        if session.admin:
            return
        if session.view is None:
            views = self._views.setdefault(session.tenant_id, {})
            view = views.get(session.username)
            if view is None:
                view = views[session.username] = View(principal)
                if len(views) == 1 and session.tenant_id not in self._channels:
                    self._events.interest_changed()
                view.ready = asyncio.ensure_future(view.load(rights))
            view.sessions += 1
            session.view = view
        ready = session.view.ready
        if ready is not None:
            try:
                await asyncio.shield(ready)
            except Exception:
                log.exception("loading what %s may read failed", session.username)
                self._release(session)  # the next subscription loads it again
                raise BayeuxError(500, "Internal error: read rights unavailable") from None

    def subscribe(self, session: Session, channel: object) -> str:
        name = validate(session.endpoint, channel)
        if session.closed:
            raise unknown_client()  # expired while its subscription was being checked: never index it again
        if name not in session.subscriptions:
            if len(session.subscriptions) >= self.max_subscriptions:
                raise BayeuxError(403, "Too many subscriptions")
            session.subscriptions.add(name)
            key = (session.tenant_id, session.endpoint, name)
            subscribers = self._subscribers.get(key)
            if subscribers is None:
                subscribers = self._subscribers[key] = set()
                count = self._channels[key[0]] = self._channels.get(key[0], 0) + 1
                if count == 1:
                    self._events.interest_changed()
            subscribers.add(session)
        return name

    async def settled(self) -> None:
        """Until the other nodes of a cluster know what this hub's subscribers want (at once when alone)."""
        await self._events.settled()

    def unsubscribe(self, session: Session, channel: object) -> str:
        name = validate(session.endpoint, channel)
        session.subscriptions.discard(name)
        self._unindex(session, name)
        return name

    async def wait(self, session: Session, hold: float | None = None) -> list[Message] | None:
        """Hold a connect up to `hold` seconds (default: the session's timeout).

        Buffered messages as soon as any exist, [] when the time is up, None if a newer connect superseded it.
        """
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        try:
            return await session.wait(session.timeout if hold is None else hold)
        finally:
            session.last_seen = self._clock()
            if not session.closed and not session.waiting:
                self._arm(session)

    def disconnect(self, session: Session) -> None:
        self._expire(session)

    def sweep(self) -> int:
        """Forget every client idle for longer than the window; the number forgotten."""
        stale = [s for s in self._sessions.values() if self._idle(s)]
        for session in stale:
            self._expire(session)
        return len(stale)

    def close(self) -> None:
        """Stop listening to the bus and release every client (server shutdown)."""
        if self._unsubscribe_bus is not None:
            self._unsubscribe_bus()
            self._unsubscribe_bus = None
        for session in list(self._sessions.values()):
            self._expire(session)

    def _idle(self, session: Session) -> bool:
        return not session.waiting and self._clock() - session.last_seen >= self.idle_window

    def _arm(self, session: Session) -> None:
        """Schedule the idle check of a client that is not connected (needs a running loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (plain unit test): find() and sweep() still expire it
        if session.timer is not None:
            session.timer.cancel()
        delay = max(0.0, self.idle_window - (self._clock() - session.last_seen))
        session.timer = loop.call_later(delay, self._check, session)

    def _check(self, session: Session) -> None:
        session.timer = None
        if session.closed or session.waiting:
            return
        if self._idle(session):
            log.debug("realtime client %s idle, forgotten", session.client_id)
            self._expire(session)
        else:
            self._arm(session)

    def _expire(self, session: Session) -> None:
        if self._sessions.pop(session.client_id, None) is None:
            return
        mine = self._by_owner.get(session.owner)
        if mine is not None:
            mine.discard(session)
            if not mine:
                del self._by_owner[session.owner]
        for name in session.subscriptions:
            self._unindex(session, name)
        self._release(session)
        session.close()

    def _release(self, session: Session) -> None:
        view, session.view = session.view, None
        if view is None:
            return
        view.sessions -= 1
        views = self._views.get(session.tenant_id)
        if views is not None and views.get(session.username) is view and (view.sessions <= 0 or view.failed):
            del views[session.username]
            if not views:
                del self._views[session.tenant_id]
                self._events.interest_changed()

    def _unindex(self, session: Session, name: str) -> None:
        key = (session.tenant_id, session.endpoint, name)
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(session)
            if not subscribers:
                del self._subscribers[key]
                left = self._channels[key[0]] - 1
                if left:
                    self._channels[key[0]] = left
                else:
                    del self._channels[key[0]]
                    self._events.interest_changed()

    # -- fan-out -------------------------------------------------------------------------------------------

    def publish(self, event: DomainEvent) -> None:
        """EventBus handler: queue the event for every subscriber of its tenant that may read it (the REST
        rule, checked per message: what a user may read changes as objects come and go) and wake them.
        A deleted user's clients are forgotten (their next request is refused; its credential is gone)."""
        if event.resource == "tenants":  # suspended or deleted: its clients are forgotten
            for owner in [o for o in self._by_owner if o[0] == event.tenant_id]:
                for session in list(self._by_owner.get(owner, ())):
                    self._expire(session)
            return
        if event.resource == "users":
            if event.action == "DELETE" and isinstance(event.payload, Principal):
                owner = (event.payload.tenant_id, event.payload.username)
                for session in list(self._by_owner.get(owner, ())):
                    self._expire(session)
            return
        views = self._views.get(event.tenant_id) if event.resource == "managedobjects" else None
        if views and event.action != "DELETE":
            for view in views.values():
                view.observe(event)  # a new object of the user's is heard with its own creation
        if event.tenant_id in self._channels:
            self._fan_out(event)
        if views and event.action == "DELETE":
            for view in list(views.values()):
                view.observe(event)  # the deletion itself is still told to those who could read it

    def _fan_out(self, event: DomainEvent) -> None:
        documents: dict[str, dict[str, Any] | None] = {}  # base URL -> rendered object, once per URL
        for target in targets(event):
            sessions: set[Session] = set()
            for name in target.subscriptions:
                sessions |= self._subscribers.get((event.tenant_id, target.endpoint, name), set())
            for session in sessions:
                if not session.reads(event):
                    continue
                if event.action == "DELETE":
                    data = _deleted(event, target)
                else:
                    if session.base_url not in documents:
                        documents[session.base_url] = self._render(event, session.base_url)
                    document = documents[session.base_url]
                    if document is None:
                        continue
                    data = _wrap(event, target, document)
                session.deliver(target.channel, data)

    def _render(self, event: DomainEvent, base_url: str) -> dict[str, Any] | None:
        renderer = self.renderers.get(event.resource)
        if renderer is None:
            log.debug("no realtime renderer for %s; event not delivered", event.resource)
            return None
        try:
            return dict(renderer(base_url, event.payload))
        except Exception:
            log.exception("rendering %s %s for real-time notification failed", event.resource, event.action)
            return None


def _wrap(event: DomainEvent, target: Target, document: dict[str, Any]) -> object:
    if target.endpoint is Endpoint.OPERATIONS:
        # the operations endpoints carry the plain object (Cumulocity's REST device integration guide, step 7)
        return document
    return {"realtimeAction": event.action, "data": document}


def _deleted(event: DomainEvent, target: Target) -> object:
    # Cumulocity: "in case of a deletion the data will only contain the id" of the deleted object.
    deleted_id = str(event.id if event.id is not None else event.source_id)
    if target.endpoint is Endpoint.OPERATIONS:
        return {"id": deleted_id}
    return {"realtimeAction": "DELETE", "data": deleted_id}
