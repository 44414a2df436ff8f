"""MQTT for the Xyte suite: a paho-mqtt device client that reports PUBACK reason codes, and the broker the
adapter runs in.

Two brokers run the same tests (fixture `xyte_mqtt` in test_mqtt.py):
* "serve": the MQTT listener of `tether serve` itself, with the platform's hooks (adapters/access.py) and the
  adapter as the composition root wires them;
* "adapter": a broker started on the server's event loop with hooks that accept Xyte logins only, through
  XyteService.authenticate, and attach what the platform hooks attach minus the device record (so that the
  adapter's other way of finding the device is exercised too). It has no ACL: the adapter's own refusal of
  another device's topics is what a test sees there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Awaitable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.reasoncodes import ReasonCode as PahoReasonCode
from tests.support import ServerThread

from tether.adapters import xyte as xyte_adapter
from tether.adapters.namespaces import C8Y_PRIVATE_ROOTS, tenant_mountpoint
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

TIMEOUT = 15.0  # seconds; only guards against hangs


class XyteOnlyHooks(Hooks):
    subscribe_denied = ReasonCode.NOT_AUTHORIZED

    def __init__(self, server: ServerThread) -> None:
        self.platform = server.platform
        self.adapter: xyte_adapter.XyteAdapter | None = None

    def authenticate(self, connect: Connect, connection: ConnectionInfo) -> Awaitable[AuthResult]:
        return self._login(connect)

    async def _login(self, connect: Connect) -> AuthResult:
        password = (connect.password or b"").decode("utf-8", "replace")
        device = await self.platform.xyte.authenticate(connect.username or "", password)
        if device is None:
            return AuthResult(ReasonCode.BAD_USER_NAME_OR_PASSWORD)
        attributes = {
            "principal": device.principal,
            "kind": "xyte",
            "device_id": str(device.mo_id),
            "superuser": False,
        }
        return AuthResult(
            attributes=attributes,
            mountpoint=tenant_mountpoint(device.tenant_id),
            private_roots=C8Y_PRIVATE_ROOTS,
        )

    def on_subscribed(self, client: ClientInfo, topic_filter: str, qos: int) -> None:
        assert self.adapter is not None
        self.adapter.on_subscribed(client, topic_filter, qos)


class AdapterBroker:
    """A broker with the Xyte adapter on the server's event loop, on an ephemeral loopback port."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.hooks = XyteOnlyHooks(server)
        self.service = MqttService(BrokerConfig(), self.hooks)
        self.socket = bind_socket("127.0.0.1:0")

    def start(self) -> AdapterBroker:
        async def start() -> None:
            await self.service.start({"mqtt": self.socket})
            assert self.service.broker is not None
            platform = self.server.platform
            self.hooks.adapter = xyte_adapter.install(
                self.service.broker, platform.xyte, platform.measurements, platform.events
            )

        self.server.call(start())
        return self

    @property
    def port(self) -> int:
        port: int = self.socket.getsockname()[1]
        return port

    def stop(self) -> None:
        async def stop() -> None:
            if self.hooks.adapter is not None:
                self.hooks.adapter.close()
            await self.service.close()

        self.server.call(stop())
        self.socket.close()


class Device:
    """A Xyte device over paho-mqtt (MQTT 5 unless told): username = client id = its id, password = its
    access key (seed 004). `publish` returns the PUBACK reason code."""

    def __init__(
        self,
        port: int,
        device: dict[str, Any],
        *,
        protocol: int = mqtt.MQTTv5,
        password: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self.port = port
        self.id: str = device["id"]
        self.protocol = protocol
        self.paho = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or self.id,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        self.paho.username_pw_set(self.id, device["access_key"] if password is None else password)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connacks: queue.Queue[PahoReasonCode] = queue.Queue()
        self.subacks: queue.Queue[list[PahoReasonCode]] = queue.Queue()
        self._acks: dict[int, PahoReasonCode] = {}
        self._acked = threading.Condition()
        self.paho.on_message = lambda c, u, m: self.messages.put(m)
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc)
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(list(rcs))
        self.paho.on_publish = self._on_publish

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: PahoReasonCode, props: Any) -> None:
        with self._acked:
            self._acks[mid] = rc
            self._acked.notify_all()

    def connect(self) -> PahoReasonCode:
        if self.protocol == mqtt.MQTTv5:
            self.paho.connect("127.0.0.1", self.port, clean_start=True)
        else:
            self.paho.connect("127.0.0.1", self.port)
        self.paho.loop_start()
        return self.connacks.get(timeout=TIMEOUT)

    def subscribe(self, topic_filter: str | None = None, qos: int = 1) -> list[PahoReasonCode]:
        self.paho.subscribe(topic_filter or f"v1/device/{self.id}/command", qos)
        return self.subacks.get(timeout=TIMEOUT)

    def send(self, topic: str, payload: Any, qos: int = 1) -> int:
        """Publish without waiting; returns the message id."""
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        properties = None
        if self.protocol == mqtt.MQTTv5:
            # The user properties Xyte's documentation shows on device publishes (mqtt-events).
            properties = PahoProperties(mqtt.PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.UserProperty = [("device_id", self.id)]
        return self.paho.publish(topic, data, qos, properties=properties).mid

    def ack(self, mid: int) -> PahoReasonCode:
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self._acks, timeout=TIMEOUT), f"no PUBACK for {mid}"
            return self._acks.pop(mid)

    def publish(self, suffix: str, payload: Any, *, device_id: str | None = None) -> PahoReasonCode:
        """Publish at QoS 1 to v1/device/<id>/<suffix> and wait for the PUBACK."""
        return self.ack(self.send(f"v1/device/{device_id or self.id}/{suffix}", payload))

    def get(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT)

    def none_within(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()
