"""MQTT for the Xyte suite: a Xyte device on the shared paho client (tests/mqtt_device.py), and the one broker
with a custom hook that the suite keeps besides `tether serve`'s own listener.

Why a custom hook: `tether serve`'s platform hooks (adapters/access.py) always attach the device record to a
Xyte login, and their ACL refuses another device's topics before the adapter sees them. `xyte_only_broker`
runs the adapter behind hooks that accept Xyte logins only, through XyteService.authenticate, attaching what
the platform hooks attach minus the record, with no ACL: only there does a network client reach the
adapter's other way of finding the device (by its managed object) and its own refusal of another device's
topics (the second lock).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties as PahoProperties
from tests.mqtt_device import V5, Device
from tests.support import ServerThread

from tether.adapters import xyte as xyte_adapter
from tether.adapters.login import Login
from tether.adapters.namespaces import C8Y_PRIVATE_ROOTS, tenant_mountpoint
from tether.adapters.policy import Policy
from tether.broker import (
    AuthResult,
    BrokerConfig,
    ClientInfo,
    ConnectionInfo,
    Hooks,
    MqttService,
    bind_socket,
)
from tether.mqtt.packets import Connect
from tether.mqtt.reason_codes import ReasonCode


class XyteDevice(Device):
    """A Xyte device (MQTT 5 unless told): username = client id = its id, password = its access key
    (docs/protocols.md section 9); JSON payloads, and on MQTT 5 the user property Xyte's documentation shows
    (mqtt-events)."""

    def __init__(
        self,
        port: int,
        device: dict[str, Any],
        *,
        protocol: int = V5,
        password: str | None = None,
        client_id: str | None = None,
        session_expiry: int | None = None,
    ) -> None:
        self.id: str = device["id"]
        key = device["access_key"] if password is None else password
        name = client_id or self.id
        super().__init__(port, name, protocol, username=self.id, password=key, session_expiry=session_expiry)

    def send(self, topic: str, payload: Any = b"", qos: int = 1, retain: bool = False, **kwargs: Any) -> int:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        if self.protocol == V5:
            properties = PahoProperties(mqtt.PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.UserProperty = [("device_id", self.id)]
            kwargs["properties"] = properties
        return super().send(topic, data, qos, retain, **kwargs)

    def report(self, suffix: str, payload: Any, *, device_id: str | None = None) -> int:
        """Publish at QoS 1 to v1/device/<id>/<suffix>; the PUBACK reason code."""
        return self.publish(f"v1/device/{device_id or self.id}/{suffix}", payload)

    def subscribe(self, topic_filter: str | None = None, qos: int = 1) -> int:
        """The SUBACK reason code; by default for the device's command topic."""
        return super().subscribe(topic_filter or f"v1/device/{self.id}/command", qos)


class XyteOnlyHooks(Hooks):
    subscribe_denied = ReasonCode.NOT_AUTHORIZED

    def __init__(self, server: ServerThread) -> None:
        self.platform = server.platform
        self.adapter: xyte_adapter.XyteAdapter | None = None

    def authenticate(self, connect: Connect, connection: ConnectionInfo) -> Awaitable[AuthResult]:
        return self._login(connect)

    async def _login(self, connect: Connect) -> AuthResult:
        password = (connect.password or b"").decode("utf-8", "replace")
        device = await self.platform.services.xyte.authenticate(connect.username or "", password)
        if device is None:
            return AuthResult(ReasonCode.BAD_USER_NAME_OR_PASSWORD)
        policy = Policy.for_device((), (device.id,), device.id)  # (these hooks allow every topic)
        login = Login(device.principal, "xyte", policy, serial=device.id, mo_id=device.mo_id)
        return AuthResult(
            login=login,
            mountpoint=tenant_mountpoint(device.tenant_id),
            private_roots=C8Y_PRIVATE_ROOTS,
        )

    def on_connected(self, client: ClientInfo, session_present: bool) -> None:
        assert self.adapter is not None
        self.adapter.on_connected(client, session_present)

    def on_disconnected(self, client: ClientInfo, reason: ReasonCode) -> None:
        assert self.adapter is not None
        self.adapter.on_disconnected(client, reason)

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        assert self.adapter is not None
        self.adapter.on_subscribed(client, topic_filter, qos)


@contextlib.contextmanager
def xyte_only_broker(server: ServerThread) -> Iterator[int]:
    """A broker with XyteOnlyHooks and the Xyte adapter on the server's event loop: its port."""
    hooks = XyteOnlyHooks(server)
    service = MqttService(BrokerConfig(), hooks)
    sock = bind_socket("127.0.0.1:0")

    async def start() -> None:
        await service.start({"mqtt": sock})
        assert service.broker is not None
        hooks.adapter = xyte_adapter.install(service.broker, server.platform.services)

    async def stop() -> None:
        if hooks.adapter is not None:
            hooks.adapter.close()
        await service.close()

    server.call(start())
    try:
        yield sock.getsockname()[1]
    finally:
        server.call(stop())
        sock.close()
