"""The rule engine's client and message events (EMQX 5's `$events/...` and their columns), from the broker's
generic seams, and `$events/tether/shadow_updated` from the shadow service's changes on the EventBus.

* `client_connack`, `client_check_authn_complete`: the hooks' `on_connack` (every CONNECT the authenticate
  hook answered; a refused one belongs to the tenant its user name names);
* `session_subscribed` / `session_unsubscribed`: the hooks' subscription listeners;
* `client_check_authz_complete`: the hooks' :attr:`PlatformHooks.authorized_listeners`, and
  `message_delivered`, `message_acked`, `message_dropped`, `delivery_dropped`: the broker's delivery
  listeners. These run per PUBLISH or per delivery, so they are attached only while some tenant has an
  enabled rule selecting them, and then cost a set lookup for the other tenants; their columns are built on
  the engine's worker, not on the broker's path.

The broker knows nothing of rules: it calls its listeners; this module turns their facts into columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tether.adapters.login import Login, login_of
from tether.adapters.namespaces import tenant_mountpoint
from tether.broker import AuthResult, ClientInfo, ConnectionInfo
from tether.broker.message import Message
from tether.core.clock import now_ms
from tether.mqtt.packets import Connect
from tether.mqtt.reason_codes import ReasonCode
from tether.rules.events import CLIENT_EVENTS

if TYPE_CHECKING:
    from tether.adapters.access import PlatformHooks
    from tether.broker import Broker

__all__ = ["ClientEvents", "shadow_columns"]

_E = "$events/"
CONNACK = _E + "client_connack"
AUTHN = _E + "client_check_authn_complete"
AUTHZ = _E + "client_check_authz_complete"
SUBSCRIBED = _E + "session_subscribed"
UNSUBSCRIBED = _E + "session_unsubscribed"
#: Broker delivery listener kinds -> event topics.
_DELIVERY = {
    "delivered": _E + "message_delivered",
    "acked": _E + "message_acked",
    "dropped": _E + "message_dropped",
    "delivery_dropped": _E + "delivery_dropped",
}
#: The client events this module feeds (client_connected/_disconnected come from the presence service).
TOPICS = (CONNACK, AUTHN, AUTHZ, SUBSCRIBED, UNSUBSCRIBED, *_DELIVERY.values())
assert set(TOPICS) <= {source.topic for source in CLIENT_EVENTS}
#: EMQX's spelling where it differs from the reason code's name.
_EMQX_REASONS = {ReasonCode.BAD_USER_NAME_OR_PASSWORD: "bad_username_or_password"}


def reason_name(code: ReasonCode) -> str:
    """A CONNACK reason code as EMQX names it in `reason_code` (`success`, `not_authorized`, ...)."""
    return _EMQX_REASONS.get(code) or code.name.lower()


class Engine(Protocol):
    """What this module needs of the rule engine (adapters/rules.py)."""

    def emit(
        self, tenant_id: str, event_topic: str, columns: dict[str, Any] | Callable[[], dict[str, Any]]
    ) -> None: ...

    def message_fields(self, tenant_id: str, message: Message) -> dict[str, Any]: ...

    def sender_columns(self, tenant_id: str, session_key: str) -> dict[str, Any]: ...


class ClientEvents:
    """Feeds a :class:`RuleEngine` the events above; :meth:`wanted` tells it which tenants want which."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Event topic -> tenants with an enabled rule selecting it (rebuilt by the engine on rule changes).
        self.tenants: dict[str, set[str]] = {topic: set() for topic in TOPICS}
        self._broker: Broker | None = None
        self._hooks: PlatformHooks | None = None
        self._detach_delivery: Callable[[], None] | None = None
        self._authz_attached = False

    def install(self, broker: Broker, hooks: PlatformHooks | None) -> None:
        self._broker = broker
        self._hooks = hooks
        if hooks is not None:
            hooks.listen(
                on_subscribed=self._subscribed, on_unsubscribed=self._unsubscribed, on_connack=self._connack
            )
        self._attach()

    def close(self) -> None:
        if self._detach_delivery is not None:
            self._detach_delivery()
            self._detach_delivery = None
        if self._authz_attached and self._hooks is not None:
            self._hooks.authorized_listeners.remove(self._authorized)
            self._authz_attached = False
        self._broker = None

    def wanted(self, wants: Callable[[str, str], bool], tenant_ids: set[str]) -> None:
        """Recompute which of `tenant_ids` want each event (`wants(tenant, topic)`), then attach the hot-path
        listeners exactly while someone wants their events."""
        for topic, tenants in self.tenants.items():
            for tenant_id in tenant_ids:
                (tenants.add if wants(tenant_id, topic) else tenants.discard)(tenant_id)
        self._attach()

    def _attach(self) -> None:
        broker, hooks = self._broker, self._hooks
        if broker is None:
            return
        delivery = any(self.tenants[topic] for topic in _DELIVERY.values())
        if delivery and self._detach_delivery is None:
            self._detach_delivery = broker.add_delivery_listener(self._delivery)
        elif not delivery and self._detach_delivery is not None:
            self._detach_delivery()
            self._detach_delivery = None
        if hooks is not None:
            authz = bool(self.tenants[AUTHZ])
            if authz and not self._authz_attached:
                hooks.authorized_listeners.append(self._authorized)
            elif not authz and self._authz_attached:
                hooks.authorized_listeners.remove(self._authorized)
            self._authz_attached = authz

    # ------------------------------------------------------------------------------------------ listeners

    def _connack(
        self, tenant_id: str | None, connect: Connect, info: ConnectionInfo, result: AuthResult
    ) -> None:
        if tenant_id is None:
            return
        connack, authn = tenant_id in self.tenants[CONNACK], tenant_id in self.tenants[AUTHN]
        if not (connack or authn):
            return
        reason = reason_name(result.reason_code)
        peer = info.peer
        common: dict[str, Any] = {"clientid": connect.client_id, "username": connect.username,
                                  "peername": peer, "peerhost": _host(peer)}  # fmt: skip
        if authn:
            login = result.login if isinstance(result.login, Login) else None
            self.engine.emit(tenant_id, AUTHN, {
                **common, "reason_code": reason, "is_superuser": bool(login is not None and login.superuser),
                "is_anonymous": connect.username is None and connect.password is None,
            })  # fmt: skip
        if connack:
            props = connect.properties
            conn_props = (
                {"Session-Expiry-Interval": props.session_expiry_interval}
                if connect.protocol_level == 5
                else {}
            )
            self.engine.emit(tenant_id, CONNACK, {
                **common, "reason_code": reason, "proto_name": "MQTT", "proto_ver": connect.protocol_level,
                "keepalive": connect.keep_alive, "clean_start": connect.clean_start,
                "expiry_interval": props.session_expiry_interval or 0,
                "conn_props": {k: v for k, v in conn_props.items() if v is not None},
                "connected_at": now_ms(),
            })  # fmt: skip

    def _subscription(self, topic: str, client: ClientInfo, topic_filter: str, qos: int | None) -> None:
        login = login_of(client)
        if login is None:
            return
        tenant_id = login.principal.tenant_id
        if tenant_id in self.tenants[topic]:
            self.engine.emit(tenant_id, topic, {
                "clientid": client.client_id, "username": client.username, "peername": client.peer,
                "peerhost": _host(client.peer), "topic": topic_filter, "qos": qos,
            })  # fmt: skip

    def _subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        self._subscription(SUBSCRIBED, client, topic_filter, qos)

    def _unsubscribed(self, client: ClientInfo, topic_filter: str) -> None:
        self._subscription(UNSUBSCRIBED, client, topic_filter, None)

    def _authorized(self, client: ClientInfo, action: str, topic: str, allowed: bool) -> None:
        login = login_of(client)
        if login is None:
            return
        tenant_id = login.principal.tenant_id
        if tenant_id in self.tenants[AUTHZ]:
            self.engine.emit(tenant_id, AUTHZ, {
                "clientid": client.client_id, "username": client.username, "peerhost": _host(client.peer),
                "topic": topic, "action": action, "authz_source": "tether",
                "result": "allow" if allowed else "deny",
            })  # fmt: skip

    def _delivery(
        self, kind: str, message: Message, session_key: str | None, qos: int, reason: str | None
    ) -> None:
        """On the broker's delivery path: a set lookup; the columns are built on the engine's worker."""
        topic = message.topic
        if not topic.startswith("$tenant/"):
            return
        tenant_id = topic[8 : topic.find("/", 8)]
        event_topic = _DELIVERY[kind]
        if tenant_id in self.tenants[event_topic]:
            self.engine.emit(
                tenant_id,
                event_topic,
                lambda: self._delivery_columns(tenant_id, kind, message, session_key, qos, reason),
            )

    def _delivery_columns(
        self,
        tenant_id: str,
        kind: str,
        message: Message,
        session_key: str | None,
        qos: int,
        reason: str | None,
    ) -> dict[str, Any]:
        engine = self.engine
        columns = engine.message_fields(tenant_id, message)
        columns["qos"] = qos
        if kind == "dropped":  # the publisher's columns as they are (EMQX: clientid, username of the sender)
            columns["reason"] = reason
            return columns
        sender = {k: columns.pop(k) for k in ("clientid", "username", "peerhost") if k in columns}
        columns["from_clientid"] = sender.get("clientid")
        columns["from_username"] = sender.get("username")
        if session_key is not None:
            receiver = engine.sender_columns(tenant_id, session_key)
            columns["clientid"] = receiver.get(
                "clientid", session_key.removeprefix(tenant_mountpoint(tenant_id))
            )
            columns["username"] = receiver.get("username")
            columns["peerhost"] = receiver.get("peerhost")
        if kind == "acked":
            columns["puback_props"] = {}
        elif kind == "delivery_dropped":
            columns["reason"] = reason
        return columns


def _host(peer: str | None) -> str | None:
    if peer is None:
        return None
    return peer.rpartition(":")[0] or peer


def shadow_columns(change: Any) -> tuple[str, dict[str, Any]]:
    """A Fleets shadow change (fleets.shadows.ShadowChange) as `shadow_updated` columns: the thing, who
    changed it, and the shadow after the change (`payload`: the update's accepted answer, or the delete's)."""
    thing = change.thing
    updated = change.updated
    columns: dict[str, Any] = {
        "thing_name": thing.name, "thing_id": thing.id, "clientid": thing.client_id,
        "source": str(thing.mo_id), "origin": change.origin,
        "operation": "delete" if change.request is None else "update",
    }  # fmt: skip
    if updated is not None:
        current = updated.current
        columns.update(state=current.state, version=current.version, delta=updated.delta,
                       previous=updated.previous.state, payload=updated.accepted)  # fmt: skip
    else:
        columns.update(state={}, payload=change.deleted)
        if change.deleted is not None and "version" in change.deleted:
            columns["version"] = change.deleted["version"]
    return "shadow_updated", columns
