"""The broker's platform hooks: who may connect (authentication), what they may do (authorization, see
:mod:`tether.adapters.policy`), and who is online (:mod:`tether.adapters.presence`).

Logins (docs/protocols.md sections 1, 8 and 9; docs/security.md, Identity and ClientIds):

* user name `tenant/user` (plain `user`: the default tenant) and password: the tenant's users (administrators,
  devices, the bootstrap user `management/devicebootstrap`), then the tenant's EMQX built-in database users;
* user name = a Xyte device id (a UUID) and password = its access key;
* on the TLS listener, a client certificate issued by a CA the tenant trusts, without a password: the device
  `device_<common name>` (created at the first connection when the CA allows auto-registration);
* an API key and its secret is a known credential without MQTT rights.

Bad credentials get 0x86 (MQTT 3.1.1: 4), a known credential without MQTT rights 0x87 (3.1.1: 5); nothing else
is revealed. A client that a ban of its tenant matches (credentials/banning.py, checked in memory) gets 0x8A
(3.1.1: 5). Failed logins are throttled per (address, user name) and, far later, per user name
(:mod:`.throttle`); a throttled client gets 0x9F (3.1.1: 3). Secrets are compared in constant time, and an
unknown user costs the same hash as a known one.

The device a client acts as comes from its credential, never from its ClientId alone (:mod:`.client_ids`): a
credential bound to a device may use only that device's ClientIds (0x85, 3.1.1: 2, otherwise); its serial
and the ClientId's default template go into the client's :class:`~.login.Login` for the SmartREST adapter.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from tether.adapters.bans import candidate, host_of
from tether.adapters.client_ids import ClientIdentity, bound_serial, parse_client_id, uses_serial
from tether.adapters.login import Login, LoginKind, login_of
from tether.adapters.namespaces import C8Y_PRIVATE_ROOTS, tenant_mountpoint
from tether.adapters.policy import Policy
from tether.adapters.presence import Presence
from tether.broker import AuthResult, ClientInfo, ConnectionInfo, DefaultHooks, Hooks
from tether.core.errors import Conflict
from tether.credentials.api_keys import looks_like_api_key
from tether.credentials.certificates import common_name, normalize_dn
from tether.credentials.rules import CompiledRule
from tether.mqtt.packets import Connect
from tether.mqtt.reason_codes import ReasonCode
from tether.registration.models import DEVICE_USER_PREFIX, MAX_ID_LENGTH
from tether.registration.xyte_models import XyteDevice
from tether.services import Services
from tether.tenants.models import Principal, Role
from tether.tenants.passwords import generate_password

__all__ = ["ClientIdentity", "PlatformHooks", "parse_client_id"]

log = logging.getLogger("tether.access")

_BAD = AuthResult(ReasonCode.BAD_USER_NAME_OR_PASSWORD)
_NOT_AUTHORIZED = AuthResult(ReasonCode.NOT_AUTHORIZED)
_CLIENT_ID_NOT_VALID = AuthResult(ReasonCode.CLIENT_IDENTIFIER_NOT_VALID)
_THROTTLED = AuthResult(ReasonCode.CONNECTION_RATE_EXCEEDED)
_BANNED = AuthResult(ReasonCode.BANNED)
_CERT_CACHE_SECONDS = 60.0


class XyteAuthenticator(Protocol):
    async def authenticate(self, device_id: str, access_key: str) -> XyteDevice | None: ...

    async def get_device(self, device_id: str) -> XyteDevice | None: ...


class ThingNames(Protocol):
    """The names of the Fleets things a user's credential is (owns): its `$emqx/things/<name>` namespaces."""

    def cached_names_owned(self, tenant_id: str, owner: str) -> tuple[str, ...] | None: ...

    async def names_owned(self, tenant_id: str, owner: str) -> tuple[str, ...]: ...


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _valid_device_id(value: str) -> bool:
    """What RegistrationService accepts as a device id (it becomes part of the user name `device_<id>`)."""
    return 0 < len(value) <= MAX_ID_LENGTH and not any(
        c in "/:\\" or c.isspace() or not c.isprintable() for c in value
    )


ConnectedListener = Callable[[ClientInfo, bool], None]
DisconnectedListener = Callable[[ClientInfo, ReasonCode], None]
SubscribedListener = Callable[[ClientInfo, str, int], None]
UnsubscribedListener = Callable[[ClientInfo, str], None]
#: (tenant the CONNECT names or logged into, or None; the CONNECT; its connection; the authenticate result)
ConnackListener = Callable[[str | None, Connect, ConnectionInfo, AuthResult], None]
#: (client, "publish" or "subscribe", topic as sent, allowed); on the PUBLISH path: take note and return.
AuthorizedListener = Callable[[ClientInfo, str, str, bool], None]


class PlatformHooks(Hooks):
    """`tether.broker.Hooks` over the platform's credentials. See the module docstring."""

    def __init__(
        self,
        services: Services,
        *,
        presence: Presence | None = None,
        anonymous: DefaultHooks | None = None,
    ) -> None:
        self.tenants = services.tenants
        self.mqtt_users = services.mqtt_users
        self.api_keys = services.api_keys
        self.acl = services.acl
        self.certificates = services.certificates
        self.default_tenant = services.settings.tenant
        self.xyte: XyteAuthenticator = services.xyte
        self.things: ThingNames = services.things
        self.throttle = services.throttle
        self.bans = services.bans
        self.presence = presence or Presence()
        #: Clients without any credential, when `--allow-anonymous` is given: the broker's plain behaviour
        #: (no tenant mountpoint, the config file's [acl]).
        self.anonymous = anonymous
        self._cert_users: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._on_connected: list[ConnectedListener] = []
        self._on_disconnected: list[DisconnectedListener] = []
        self._on_subscribed: list[SubscribedListener] = []
        self._on_unsubscribed: list[UnsubscribedListener] = []
        self._on_connack: list[ConnackListener] = []
        #: Empty unless someone follows authorization (the rule engine, while a rule selects it).
        self.authorized_listeners: list[AuthorizedListener] = []

    def subscribe_refusal(self, client: ClientInfo) -> ReasonCode:
        """0x87 Not authorized for a refused subscription of a platform client; anonymous clients
        get the broker's 0x80, as the Paho interoperability suite (run anonymously) expects."""
        if login_of(client) is None:
            return ReasonCode.UNSPECIFIED_ERROR
        return ReasonCode.NOT_AUTHORIZED

    def listen(
        self,
        *,
        on_connected: ConnectedListener | None = None,
        on_disconnected: DisconnectedListener | None = None,
        on_subscribed: SubscribedListener | None = None,
        on_unsubscribed: UnsubscribedListener | None = None,
        on_connack: ConnackListener | None = None,
    ) -> None:
        """Let a protocol adapter follow connection events (e.g. Xyte's on_subscribed). Authorization
        decisions: append to :attr:`authorized_listeners` only while needed (they run per PUBLISH)."""
        if on_connack is not None:
            self._on_connack.append(on_connack)
        if on_connected is not None:
            self._on_connected.append(on_connected)
        if on_disconnected is not None:
            self._on_disconnected.append(on_disconnected)
        if on_subscribed is not None:
            self._on_subscribed.append(on_subscribed)
        if on_unsubscribed is not None:
            self._on_unsubscribed.append(on_unsubscribed)

    # ----------------------------------------------------------------------------------------- authenticate

    def authenticate(
        self, connect: Connect, connection: ConnectionInfo
    ) -> AuthResult | Awaitable[AuthResult]:
        result = self._authenticate(connect, connection)
        if not self.bans.any and not self.tenants.has_inactive:
            return result
        if inspect.isawaitable(result):
            return self._unless_banned_later(result, connect, connection)
        return self._unless_banned(result, connect, connection)

    def _unless_banned(self, result: AuthResult, connect: Connect, connection: ConnectionInfo) -> AuthResult:
        """0x8A Banned (MQTT 3.1.1: 5) for an accepted client that one of its tenant's bans matches (in
        memory, credentials/banning.py)."""
        login = _accepted_login(result)
        if login is None:
            return result
        principal = login.principal
        if not self.tenants.is_active(principal.tenant_id):  # suspended or deleted: every credential of it
            log.info("MQTT client %r of %s refused: tenant suspended", connect.client_id, principal.tenant_id)
            return _NOT_AUTHORIZED
        client = candidate(connect.client_id, connect.username, principal.username, connection.peer)
        ban = self.bans.banned(principal.tenant_id, client)
        if ban is None:
            return result
        log.info(
            "MQTT client %r of %s from %s refused: banned (%s %r)",
            connect.client_id,
            principal.tenant_id,
            connection.peer,
            ban.kind.value,
            ban.who,
        )
        return _BANNED

    async def _unless_banned_later(
        self, pending: Awaitable[AuthResult], connect: Connect, connection: ConnectionInfo
    ) -> AuthResult:
        return self._unless_banned(await pending, connect, connection)

    def _authenticate(
        self, connect: Connect, connection: ConnectionInfo
    ) -> AuthResult | Awaitable[AuthResult]:
        username, password = connect.username, connect.password
        if password is None and connection.certificate:
            return self._certificate_login(connect, connection.certificate)
        if username is None and password is None:
            if self.anonymous is not None and self.anonymous.allow_anonymous:
                return AuthResult()  # no login record: the broker's plain behaviour
            log.info("MQTT client %r from %s refused: no credentials", connect.client_id, connection.peer)
            return _NOT_AUTHORIZED
        if username is None or password is None:
            return _BAD
        address = host_of(connection.peer)
        user_key = self._login_name(username)
        wait = self.throttle.retry_after(address, user_key)
        if wait is not None:
            log.info("MQTT login of %r from %s refused: throttled for %d s", username, connection.peer, wait)
            return _THROTTLED
        # A credential verified a moment ago (a device reconnecting) is answered at once: no task, no I/O.
        known = self._cached_login(connect, username, password)
        if known is not None:
            self.throttle.succeeded(address, user_key)
            return known
        return self._password_login(connect, username, password, address, user_key, connection)

    def _login_name(self, username: str) -> str:
        """The throttle's key for a user name: `user` and `<default tenant>/user` are one name."""
        return username if "/" in username else f"{self.default_tenant}/{username}"

    def _cached_login(
        self, connect: Connect, username: str, raw_password: bytes
    ) -> AuthResult | Awaitable[AuthResult] | None:
        try:
            password = raw_password.decode("utf-8")
        except UnicodeDecodeError:
            return None
        tenant, slash, name = username.partition("/")
        if not slash:
            if looks_like_api_key(username) or (self.xyte is not None and _is_uuid(username)):
                return None
            tenant, name = self.default_tenant, username
        if not tenant or not name:
            return None
        principal = self.tenants.cached(tenant, name, password)
        mqtt_user = None if principal is not None else self.mqtt_users.cached(tenant, name, password)
        if principal is None and mqtt_user is None:
            return None
        rules = self.acl.cached_rules_for(tenant, name, connect.client_id)
        if rules is None:
            return None
        if principal is not None:
            return self._user_result(connect, principal, rules)
        assert mqtt_user is not None
        return self._mqtt_user_result(connect, tenant, name, mqtt_user.is_superuser, rules)

    async def _password_login(
        self,
        connect: Connect,
        username: str,
        raw_password: bytes,
        address: str | None,
        user_key: str,
        connection: ConnectionInfo,
    ) -> AuthResult:
        try:
            password = raw_password.decode("utf-8")
        except UnicodeDecodeError:
            password = None
        result = _BAD if password is None else await self._check_password(connect, username, password)
        if result.reason_code is ReasonCode.BAD_USER_NAME_OR_PASSWORD:
            self.throttle.failed(address, user_key)
            log.info("MQTT login of %r from %s refused: bad credentials", username, connection.peer)
        else:
            self.throttle.succeeded(address, user_key)
            if not result.ok:
                log.info("MQTT login of %r from %s refused: not authorized", username, connection.peer)
        return result

    async def _check_password(self, connect: Connect, username: str, password: str) -> AuthResult:
        result = await self._credential_result(connect, username, password)
        return await result if inspect.isawaitable(result) else result

    async def _credential_result(
        self, connect: Connect, username: str, password: str
    ) -> AuthResult | Awaitable[AuthResult]:
        tenant, slash, name = username.partition("/")
        if not slash:
            tenant, name = self.default_tenant, username
            if looks_like_api_key(username):
                # An HTTPS credential: known, but without MQTT rights.
                key = await self.api_keys.authenticate(username, password)
                if key is not None:
                    return _NOT_AUTHORIZED
            if self.xyte is not None and _is_uuid(username):
                device = await self.xyte.authenticate(username, password)
                return _BAD if device is None else await self._xyte_result(connect, device)
        if not tenant or not name:
            return _BAD
        principal = self.tenants.cached(tenant, name, password)  # (its tenant's rules were not loaded)
        if principal is not None:
            return self._user_result(connect, principal, await self._rules(connect, tenant, name))
        user = await self.tenants.get_user(tenant, name)
        if user is not None:
            principal = await self.tenants.verify(user, password, "MQTT")
            if principal is None:
                return _BAD
            return self._user_result(connect, principal, await self._rules(connect, tenant, name))
        found = await self.mqtt_users.find(tenant, name)
        if found is not None:
            if not await self.mqtt_users.verify(found, password):
                return _BAD
            rules = await self._rules(connect, tenant, name)
            return self._mqtt_user_result(connect, tenant, name, found.is_superuser, rules)
        await self.tenants.reject_unknown(name, password)
        return _BAD

    async def _rules(self, connect: Connect, tenant_id: str, username: str) -> tuple[CompiledRule, ...]:
        return await self.acl.rules_for(tenant_id, username, connect.client_id)

    # ----------------------------------------------------------------------------------------- results

    @staticmethod
    def _accepted(
        tenant_id: str, login: Login, private_roots: frozenset[str] = C8Y_PRIVATE_ROOTS
    ) -> AuthResult:
        return AuthResult(login=login, mountpoint=tenant_mountpoint(tenant_id), private_roots=private_roots)

    def _operator_result(self, connect: Connect, principal: Principal, kind: LoginKind) -> AuthResult:
        """An administrator or EMQX superuser: any topic and any ClientId of its tenant, explicitly (it may
        act as the device its ClientId names)."""
        identity = parse_client_id(connect.client_id)
        login = Login(principal, kind, Policy(superuser=True), True, identity.serial, identity.template_id)
        return self._accepted(principal.tenant_id, login)

    def _device_result(
        self,
        connect: Connect,
        principal: Principal,
        kind: LoginKind,
        serial: str,
        rules: tuple[CompiledRule, ...],
        xyte_id: str | None = None,
    ) -> AuthResult | Awaitable[AuthResult]:
        """A credential bound to the device `serial`: only that device's ClientIds (:mod:`.client_ids`), and
        the Fleets namespaces of the things it is (the managed objects it owns; none, if it is no thing)."""
        client_id = connect.client_id
        if not (uses_serial(client_id, serial) if xyte_id is None else client_id == xyte_id):
            log.info(
                "MQTT client %r refused: not a ClientId of device %s/%s",
                client_id,
                principal.tenant_id,
                serial,
            )
            return _CLIENT_ID_NOT_VALID
        things = self.things.cached_names_owned(principal.tenant_id, principal.username)
        if things is None:
            return self._device_result_later(connect, principal, kind, serial, rules, xyte_id)
        return self._device_accepted(connect, principal, kind, serial, rules, xyte_id, things)

    async def _device_result_later(
        self,
        connect: Connect,
        principal: Principal,
        kind: LoginKind,
        serial: str,
        rules: tuple[CompiledRule, ...],
        xyte_id: str | None,
    ) -> AuthResult:
        things = await self.things.names_owned(principal.tenant_id, principal.username)
        return self._device_accepted(connect, principal, kind, serial, rules, xyte_id, things)

    def _device_accepted(
        self,
        connect: Connect,
        principal: Principal,
        kind: LoginKind,
        serial: str,
        rules: tuple[CompiledRule, ...],
        xyte_id: str | None,
        things: tuple[str, ...],
    ) -> AuthResult:
        policy = Policy.for_device(rules, things, xyte_id)
        template_id = parse_client_id(connect.client_id).template_id if xyte_id is None else None
        if serial == connect.client_id:
            serial = connect.client_id  # the one string the connection keeps anyway (its ClientId)
        login = Login(principal, kind, policy, serial=serial, template_id=template_id, things=things)
        return self._accepted(principal.tenant_id, login)

    async def _generic_result(
        self, connect: Connect, principal: Principal, kind: LoginKind, rules: tuple[CompiledRule, ...]
    ) -> AuthResult:
        """A credential bound to no device: its topics are what the operator's rules allow, it has no private
        roots (its `s/us` is a plain topic of the tenant), and it may not use a device's ClientId."""
        if await self._claimed_by_device(principal.tenant_id, connect.client_id):
            log.info(
                "MQTT client %r of %s/%s refused: the ClientId belongs to a device",
                connect.client_id,
                principal.tenant_id,
                principal.username,
            )
            return _CLIENT_ID_NOT_VALID
        policy = Policy(rules=rules, private_roots=frozenset())
        return self._accepted(principal.tenant_id, Login(principal, kind, policy), frozenset())

    async def _claimed_by_device(self, tenant_id: str, client_id: str) -> bool:
        """Whether `client_id` is a ClientId of one of the tenant's devices: a device user's
        (`device_<serial>` or a device-role user named `serial`), or a Xyte device's id."""
        serial = parse_client_id(client_id).serial
        if serial:
            for name in (DEVICE_USER_PREFIX + serial, serial):
                user = await self.tenants.get_user(tenant_id, name)
                if user is not None and Role.DEVICE in user.roles and Role.ADMIN not in user.roles:
                    return True
        if self.xyte is not None and _is_uuid(client_id):
            device = await self.xyte.get_device(client_id.lower())
            if device is not None and device.tenant_id == tenant_id:
                return True
        return False

    def _user_result(
        self, connect: Connect, principal: Principal, rules: tuple[CompiledRule, ...]
    ) -> AuthResult | Awaitable[AuthResult]:
        if principal.is_admin:
            return self._operator_result(connect, principal, "user")
        if Role.BOOTSTRAP in principal.roles:
            # Device bootstrap (docs/protocols.md section 7): the ClientId is the serial of the device asking
            # for credentials.
            identity = parse_client_id(connect.client_id)
            login = Login(
                principal,
                "bootstrap",
                Policy(bootstrap=True),
                serial=identity.serial,
                template_id=identity.template_id,
            )
            return self._accepted(principal.tenant_id, login)
        serial = bound_serial(principal)
        if serial is None:
            return self._generic_result(connect, principal, "user", rules)
        return self._device_result(connect, principal, "user", serial, rules)

    def _mqtt_user_result(
        self, connect: Connect, tenant_id: str, name: str, superuser: bool, rules: tuple[CompiledRule, ...]
    ) -> AuthResult | Awaitable[AuthResult]:
        # An MQTT-only user has the device role towards the services (it owns what it creates).
        principal = Principal(tenant_id=tenant_id, username=name, roles=frozenset({Role.DEVICE}))
        if superuser:
            return self._operator_result(connect, principal, "mqtt_user")
        return self._generic_result(connect, principal, "mqtt_user", rules)

    async def _xyte_result(self, connect: Connect, device: XyteDevice) -> AuthResult:
        # Its user name and client id are both its id (docs/protocols.md section 9): operator rules for
        # either apply.
        rules = await self._rules(connect, device.tenant_id, device.id)
        pending = self._device_result(connect, device.principal, "xyte", device.id, rules, xyte_id=device.id)
        result = await pending if inspect.isawaitable(pending) else pending
        login = _accepted_login(result)
        if login is None:
            return result
        return self._accepted(device.tenant_id, replace(login, xyte=device, mo_id=device.mo_id))

    # ----------------------------------------------------------------------------------------- certificates

    async def _certificate_login(self, connect: Connect, certificate: Mapping[str, Any]) -> AuthResult:
        """A TLS client certificate the handshake verified against the trusted CAs of every tenant: its issuer
        names the tenant, its common name the device (docs/protocols.md section 1: with a
        certificate, the device identifier of the client id must equal the common name)."""
        issuer = normalize_dn(certificate.get("issuer"))
        ca = self.certificates.issuer(issuer)
        if ca is None:
            log.info(
                "MQTT client %r refused: its certificate's CA is not (or no longer) trusted",
                connect.client_id,
            )
            return _NOT_AUTHORIZED
        cn = common_name(normalize_dn(certificate.get("subject")))
        if cn is None or not _valid_device_id(cn):
            log.info(
                "MQTT client %r refused: certificate common name %r is not a device id", connect.client_id, cn
            )
            return _BAD
        serial = parse_client_id(connect.client_id).serial
        if serial != cn:
            log.info(
                "MQTT client %r refused: its device id is not the certificate's CN %r", connect.client_id, cn
            )
            return AuthResult(ReasonCode.CLIENT_IDENTIFIER_NOT_VALID)
        tenant_id = ca.tenant_id
        username = DEVICE_USER_PREFIX + cn
        principal = await self._certificate_user(tenant_id, username, ca.auto_registration)
        if principal is None:
            log.info("MQTT device %s/%s refused: not registered (no auto-registration)", tenant_id, username)
            return _NOT_AUTHORIZED
        pending = self._user_result(connect, principal, await self._rules(connect, tenant_id, username))
        result = await pending if inspect.isawaitable(pending) else pending
        login = _accepted_login(result)
        if login is None:
            return result
        return self._accepted(tenant_id, replace(login, certificate=True), result.private_roots)

    def forget_user(self, tenant_id: str, username: str) -> None:
        """The user was deleted: a certificate login must look it up again (adapters/revocation.py)."""
        self._cert_users.pop((tenant_id, username), None)

    async def _certificate_user(self, tenant_id: str, username: str, auto_register: bool) -> Principal | None:
        now = time.monotonic()
        hit = self._cert_users.get((tenant_id, username))
        if hit is not None and hit[0] > now:
            return hit[1]
        user = await self.tenants.get_user(tenant_id, username)
        if user is None and auto_register:
            try:
                # Its password is never shown: the device logs in with its certificate.
                user = await self.tenants.create_user(
                    tenant_id, username, generate_password(), {Role.DEVICE}, generated=True
                )
                log.info("registered device user %s/%s at its first certificate login", tenant_id, username)
            except Conflict:
                user = await self.tenants.get_user(tenant_id, username)
        if user is None:
            return None
        principal = Principal(tenant_id=tenant_id, username=username, roles=user.roles)
        if len(self._cert_users) > 50_000:
            self._cert_users = {k: v for k, v in self._cert_users.items() if v[0] > now}
        self._cert_users[(tenant_id, username)] = (now + _CERT_CACHE_SECONDS, principal)
        return principal

    # ----------------------------------------------------------------------------------------- authorize

    def authorize_publish(self, client: ClientInfo, topic: str, qos: int = 0, retain: bool = False) -> bool:
        login = client.login
        if type(login) is not Login and not isinstance(login, Login):  # login_of inline: once per PUBLISH
            anonymous = self.anonymous
            return anonymous is not None and anonymous.authorize_publish(client, topic, qos, retain)
        login.messages += 1  # "heard from" for presence (the login is its Activity): sampled by its timer
        policy = login.policy
        allowed = policy.superuser or policy.may_publish(topic, qos, retain)
        if self.authorized_listeners:
            for listener in self.authorized_listeners:
                _call(listener, client, "publish", topic, allowed)
        return allowed

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int = 0) -> bool:
        login = login_of(client)
        if login is None:
            return self.anonymous is not None and self.anonymous.authorize_subscribe(
                client, topic_filter, qos
            )
        allowed = login.policy.may_subscribe(topic_filter, qos)
        if not allowed:
            log.info("MQTT client %s may not subscribe to %r", client.client_id, topic_filter)
        if self.authorized_listeners:
            for listener in self.authorized_listeners:
                _call(listener, client, "subscribe", topic_filter, allowed)
        return allowed

    # ----------------------------------------------------------------------------------------- events

    def on_connack(self, connect: Connect, connection: ConnectionInfo, result: AuthResult) -> None:
        if not self._on_connack:
            return
        login = _accepted_login(result)
        if login is not None:
            tenant: str | None = login.principal.tenant_id
        elif connect.username is not None and result.login is None:
            # Refused: the tenant its user name names (`tenant/user`, else the default tenant's user).
            prefix, slash, _ = connect.username.partition("/")
            tenant = prefix if slash else self.default_tenant
        else:
            tenant = None
        for listener in self._on_connack:
            _call(listener, tenant, connect, connection, result)

    def on_connected(self, client: ClientInfo, session_present: bool) -> None:
        self.presence.connected(client)
        for listener in self._on_connected:
            _call(listener, client, session_present)

    def on_disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        self.presence.disconnected(client, int(reason))
        for listener in self._on_disconnected:
            _call(listener, client, reason)

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        for listener in self._on_subscribed:
            _call(listener, client, topic_filter, qos)

    def on_unsubscribed(self, client: ClientInfo, topic_filter: str) -> None:
        for listener in self._on_unsubscribed:
            _call(listener, client, topic_filter)


def _accepted_login(result: AuthResult) -> Login | None:
    """The login record of an accepted result (None: refused)."""
    return result.login if result.ok and isinstance(result.login, Login) else None


def _call(listener: Callable[..., None], *args: Any) -> None:
    try:
        listener(*args)
    except Exception:
        log.exception("MQTT connection event listener %r failed", listener)
