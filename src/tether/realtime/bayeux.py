"""Bayeux 1.0 meta messages over the hub, independent of the transport (long-polling or WebSocket).

A transport decodes a batch, feeds each message to `Conversation.step` in order, and for a /meta/connect
holds `Conversation.complete` until data arrives or the timeout passes. Every failure is a Bayeux reply
(`successful: false`, `error: "<code>::<message>"`), never an exception to the transport.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tether.realtime.access import ReadRights
from tether.realtime.channels import Endpoint, InvalidChannel, subject, validate
from tether.realtime.errors import BayeuxError, bad_message, not_readable, unauthorized, unknown_client
from tether.realtime.hub import Hub
from tether.realtime.sessions import Message, Session
from tether.tenants.models import Principal

log = logging.getLogger(__name__)

VERSION = "1.0"
CONNECTION_TYPES = ["long-polling", "websocket"]
AUTHN_EXT = "com.cumulocity.authn"

TokenAuthenticator = Callable[[str], Awaitable[Principal | None]]
"""The `token` of the handshake ext, base64("tenant/user:password"), to its principal (or None)."""


class MalformedBatch(ValueError):
    """The transport payload is not JSON at all."""


def decode(payload: bytes | str) -> list[object]:
    """A batch of messages: a JSON array, or a single JSON value taken as a batch of one."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MalformedBatch(f"Malformed JSON: {exc}") from None
    return document if isinstance(document, list) else [document]


def ext_token(message: object) -> str | None:
    """The Cumulocity authentication token in a message's ext, if any."""
    if not isinstance(message, dict):
        return None
    ext = message.get("ext")
    authn = ext.get(AUTHN_EXT) if isinstance(ext, dict) else None
    token = authn.get("token") if isinstance(authn, dict) else None
    return token if isinstance(token, str) and token else None


@dataclass(frozen=True, slots=True)
class PendingConnect:
    """A /meta/connect to hold until data arrives or `timeout` seconds pass."""

    session: Session
    request: dict[str, Any]
    timeout: float


class Conversation:
    """The messages of one transport: an HTTP request, or the frames of one WebSocket."""

    def __init__(
        self,
        hub: Hub,
        endpoint: Endpoint,
        base_url: str,
        principal: Principal | None = None,
        authenticate_token: TokenAuthenticator | None = None,
        rights: ReadRights | None = None,
    ) -> None:
        self.hub = hub
        self.endpoint = endpoint
        self.base_url = base_url
        self.principal = principal
        self._authenticate_token = authenticate_token
        self._rights = rights  # without it only admins may subscribe

    async def process(self, messages: Sequence[object]) -> list[Message]:
        """Long-polling: every reply in order, a connect's data messages just before its reply."""
        replies: list[Message] = []
        for message in messages:
            step = await self.step(message)
            if isinstance(step, PendingConnect):
                replies.extend(await self.complete(step))
            else:
                replies.extend(step)
        return replies

    async def step(self, message: object) -> list[Message] | PendingConnect:
        """The replies to one message, or the connect the transport must hold."""
        request: dict[str, Any] = message if isinstance(message, dict) else {}
        try:
            if not isinstance(message, dict):
                raise bad_message("A message must be a JSON object")
            channel = message.get("channel")
            if not isinstance(channel, str) or not channel:
                raise bad_message("Missing channel")
            await self._authenticate(message)
            if channel == "/meta/handshake":
                return [self._handshake(message)]
            if not channel.startswith("/meta/"):
                raise BayeuxError(403, f"Publishing to {channel} is not allowed")
            session = self.hub.find(message.get("clientId"), self.principal, self.endpoint)
            if channel == "/meta/connect":
                if session is None:
                    raise unknown_client()
                return PendingConnect(session, message, self.hub.connect_timeout(_advised(message)))
            if channel == "/meta/subscribe":
                return [await self._subscription(message, session, subscribe=True)]
            if channel == "/meta/unsubscribe":
                return [await self._subscription(message, session, subscribe=False)]
            if channel == "/meta/disconnect":
                if session is None:
                    raise unknown_client()
                self.hub.disconnect(session)
                return [_reply(message, successful=True, clientId=session.client_id)]
            raise bad_message(f"Unknown meta channel {channel}")
        except BayeuxError as exc:
            return [_failure(request, exc)]

    async def complete(self, pending: PendingConnect) -> list[Message]:
        """Hold the connect; the data messages that arrived, then the connect reply."""
        session = pending.session
        messages = await self.hub.wait(session, pending.timeout)
        if session.closed:
            return [_failure(pending.request, unknown_client())]
        reply = _reply(
            pending.request, successful=True, clientId=session.client_id, advice=self._advice(session)
        )
        return [*(messages or []), reply]

    async def _authenticate(self, message: dict[str, Any]) -> None:
        token = ext_token(message)
        if token is None or self.principal is not None or self._authenticate_token is None:
            return
        principal = await self._authenticate_token(token)
        if principal is None:
            raise unauthorized()
        self.principal = principal

    def _handshake(self, message: dict[str, Any]) -> Message:
        if self.principal is None:
            raise unauthorized()
        types = message.get("supportedConnectionTypes")
        if isinstance(types, list) and types and not set(CONNECTION_TYPES) & set(types):
            raise bad_message("Unsupported connection types; use long-polling or websocket")
        session = self.hub.handshake(self.principal, self.endpoint, self.base_url, timeout=_advised(message))
        return _reply(
            message,
            successful=True,
            version=VERSION,
            minimumVersion=VERSION,
            clientId=session.client_id,
            supportedConnectionTypes=CONNECTION_TYPES,
            advice=self._advice(session),
        )

    async def _subscription(
        self, message: dict[str, Any], session: Session | None, *, subscribe: bool
    ) -> Message:
        if session is None:
            raise unknown_client()
        wanted = message.get("subscription")
        if wanted is None:
            raise bad_message("Missing subscription")
        channels = wanted if isinstance(wanted, list) else [wanted]
        if not channels:
            raise bad_message("Missing subscription")
        try:
            names = [validate(self.endpoint, channel) for channel in channels]
        except InvalidChannel as exc:
            raise bad_message(str(exc)) from None
        if subscribe:
            await self._authorize(session, names)
        for name in names:
            if subscribe:
                self.hub.subscribe(session, name)
            else:
                self.hub.unsubscribe(session, name)
        if subscribe:
            await self.hub.settled()  # in a cluster: the other nodes know before the client is answered
        return _reply(message, successful=True, clientId=session.client_id, subscription=wanted)

    async def _authorize(self, session: Session, names: list[str]) -> None:
        """Every channel must be readable under the REST rules; all or none of a message's channels are
        subscribed. A wildcard is narrowed per message instead (hub.publish), as is every channel."""
        principal = self.principal
        if session.admin or principal is None:
            return
        if self._rights is None:
            raise not_readable(names[0])
        await self.hub.watch(session, principal, self._rights)
        for name in names:
            resource, object_id = subject(self.endpoint, name)
            if object_id is None:
                continue
            if resource == "operations":
                readable = await self._rights.may_read_operations_of(principal, object_id)
            else:
                readable = await self._rights.may_read_object(principal, object_id)
            if not readable:
                log.info("realtime: %s/%s may not read %s", principal.tenant_id, principal.username, name)
                raise not_readable(name)

    def _advice(self, session: Session) -> dict[str, Any]:
        return {
            "timeout": round(session.timeout * 1000),
            "interval": round(self.hub.interval * 1000),
            "reconnect": "retry",
        }


def _advised(message: dict[str, Any]) -> float | None:
    """The client's advised connect timeout in seconds (advice.timeout is in milliseconds)."""
    advice = message.get("advice")
    timeout = advice.get("timeout") if isinstance(advice, dict) else None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return None
    return float(timeout) / 1000


def _reply(request: dict[str, Any], **fields: Any) -> Message:
    reply: Message = {"channel": request.get("channel")}
    if "id" in request:
        reply["id"] = request["id"]
    reply.update(fields)
    return reply


def _failure(request: dict[str, Any], error: BayeuxError) -> Message:
    reply: Message = {}
    channel = request.get("channel")
    if isinstance(channel, str):
        reply["channel"] = channel
    if "id" in request:
        reply["id"] = request["id"]
    if isinstance(request.get("clientId"), str):
        reply["clientId"] = request["clientId"]
    if "subscription" in request:
        reply["subscription"] = request["subscription"]
    reply["successful"] = False
    reply["error"] = error.error
    if error.reconnect is not None:
        reply["advice"] = {"reconnect": error.reconnect, "interval": 0}
    return reply
