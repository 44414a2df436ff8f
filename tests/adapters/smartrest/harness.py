"""A broker with the platform's hooks and the SmartREST adapter on the loop of a real `tether serve`, and
paho-mqtt devices that collect what arrives per topic.

`SmartRestBroker` wires exactly what the composition root wires (tether.bootstrap.build_mqtt_hooks, the
device-bootstrap handler, tether.adapters.smartrest.install) on its own listener, so the adapter uses the
server's services, EventBus and database, and operations created over the server's REST API reach it.
"""

from __future__ import annotations

import queue
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from tests.support import ServerThread

from tether.adapters import smartrest
from tether.adapters.device_bootstrap import DeviceBootstrap
from tether.adapters.smartrest import Services, SmartRestAdapter
from tether.adapters.throttle import Throttle
from tether.bootstrap import build_mqtt_hooks
from tether.broker import BrokerConfig, MqttService, bind_socket
from tether.tenants.models import Role
from tether.tenants.passwords import generate_password

TIMEOUT = 15.0  # seconds; only guards against hangs
V5 = mqtt.MQTTv5
V311 = mqtt.MQTTv311


def unique(prefix: str = "d") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class SmartRestBroker:
    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.socket = bind_socket("127.0.0.1:0")
        self.service: MqttService | None = None
        self.adapter: SmartRestAdapter | None = None

    def start(self) -> SmartRestBroker:
        self.server.call(self._start())
        return self

    async def _start(self) -> None:
        platform = self.server.platform
        config = BrokerConfig()
        hooks = build_mqtt_hooks(platform, config)
        hooks.throttle = Throttle(max_failures=1_000_000)  # every test logs in from 127.0.0.1
        self.service = MqttService(config, hooks)

        def setup(broker: Any) -> None:
            bootstrap = DeviceBootstrap(platform.registration, broker.publish)
            services = Services(
                inventory=platform.inventory,
                identity=platform.identity,
                measurements=platform.measurements,
                events=platform.device_events,
                alarms=platform.alarms,
                operations=platform.operations,
            )
            self.adapter = smartrest.install(
                broker,
                services,
                platform.events,
                templates=platform.storage.smartrest_templates,
                bootstrap=bootstrap.handle,
                hooks=hooks,
            )

        await self.service.start({"mqtt": self.socket}, setup)

    @property
    def port(self) -> int:
        port: int = self.socket.getsockname()[1]
        return port

    def stop(self) -> None:
        async def stop() -> None:
            if self.adapter is not None:
                await self.adapter.close()
            if self.service is not None:
                await self.service.close()

        self.server.call(stop())
        self.socket.close()

    def device_user(self, serial: str | None = None, tenant: str = "t1") -> tuple[str, str, str]:
        """A device user `device_<serial>`: (serial, login, password)."""
        serial = serial or unique("SER")
        password = generate_password()
        tenants = self.server.platform.tenants
        self.server.call(
            tenants.create_user(tenant, f"device_{serial}", password, {Role.DEVICE}, generated=True)
        )
        return serial, f"{tenant}/device_{serial}", password


class Device:
    """A paho-mqtt client (its network loop in a thread); messages are kept per topic."""

    def __init__(
        self,
        port: int,
        client_id: str,
        username: str,
        password: str,
        protocol: int = V5,
        *,
        will: tuple[str, str] | None = None,
    ) -> None:
        self.port = port
        self.protocol = protocol
        self.paho = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        self.paho.username_pw_set(username, password)
        if will is not None:
            self.paho.will_set(will[0], will[1], qos=1)
        self.connacks: queue.Queue[int] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.pubacks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.topics: dict[str, queue.Queue[str]] = {}
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc.value)
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put([rc.value for rc in rcs])
        self.paho.on_publish = lambda c, u, mid, rc, props: self.pubacks.put((mid, rc.value))
        self.paho.on_message = self._message

    def _message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.topics.setdefault(message.topic, queue.Queue()).put(message.payload.decode())

    def connect(self) -> Device:
        self.paho.connect("127.0.0.1", self.port, keepalive=60)
        self.paho.loop_start()
        code = self.connacks.get(timeout=TIMEOUT)
        assert code == 0, f"CONNACK {code:#x}"
        return self

    def subscribe(self, *filters: str, qos: int = 1) -> None:
        for topic_filter in filters:
            result, _ = self.paho.subscribe(topic_filter, qos)
            assert result == mqtt.MQTT_ERR_SUCCESS
            (code,) = self.subacks.get(timeout=TIMEOUT)
            assert code == qos, f"SUBACK {code:#x} for {topic_filter}"

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 1) -> int:
        """The PUBACK reason code (0 for MQTT 3.1.1 and QoS 0): returns once the server acknowledged."""
        info = self.paho.publish(topic, payload, qos)
        info.wait_for_publish(timeout=TIMEOUT)
        if qos == 0:
            return 0
        while True:
            mid, code = self.pubacks.get(timeout=TIMEOUT)
            if mid == info.mid:
                return code

    def get(self, topic: str, timeout: float = TIMEOUT) -> str:
        return self.topics.setdefault(topic, queue.Queue()).get(timeout=timeout)

    def lines(self, topic: str, count: int) -> list[str]:
        return [self.get(topic) for _ in range(count)]

    def nothing_on(self, topic: str, seconds: float = 0.5) -> bool:
        try:
            self.topics.setdefault(topic, queue.Queue()).get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        try:
            self.paho.disconnect()
        finally:
            self.paho.loop_stop()

    def drop(self) -> None:
        """Lose the connection without DISCONNECT (the will is published)."""
        self.paho.loop_stop()
        sock = self.paho.socket()
        if sock is not None:
            sock.close()
