"""The platform's MQTT hooks on a real broker, and paho-mqtt clients that report every reason code.

`PlatformBroker` starts an MqttService with `PlatformHooks` (tether.bootstrap.build_mqtt_hooks) and the
device-bootstrap handler on the event loop of a running `tether serve` (tests/support.ServerThread), so the
hooks use that server's services and database; plus a TLS listener trusting the tenants' CA certificates.
"""

from __future__ import annotations

import asyncio
import queue
import ssl
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from tests.adapters.certs import Issued, make_ca, make_leaf
from tests.support import ServerThread

from tether.adapters.device_bootstrap import DeviceBootstrap
from tether.adapters.throttle import Throttle
from tether.adapters.tls import install_trusted_cas
from tether.bootstrap import build_mqtt_hooks
from tether.broker import BrokerConfig, MqttService, TlsConfig, bind_socket
from tether.broker.listener import serve_tcp, tls_context

TIMEOUT = 10.0  # seconds; only guards against hangs
V5 = mqtt.MQTTv5
V311 = mqtt.MQTTv311
PROTOCOLS = [V5, V311]
PROTOCOL_IDS = ["mqtt5", "mqtt311"]

# Reason codes as paho reports them (3.1.1 return codes 4 and 5 arrive as 0x86 and 0x87).
BAD_CREDENTIALS = 0x86
NOT_AUTHORIZED = 0x87
CLIENT_ID_NOT_VALID = 0x85


def unique(prefix: str = "c") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class PlatformBroker:
    def __init__(self, server: ServerThread, tmp: Path, throttle: Throttle | None = None) -> None:
        self.server = server
        self.server_ca = make_ca("Tether test server CA")
        self.server_cert: Issued = make_leaf(self.server_ca, "localhost", server=True)
        self.certfile, self.keyfile = self.server_cert.write(tmp, "server")
        self.ca_file = tmp / "server-ca.crt"
        self.ca_file.write_text(self.server_ca.pem)
        self.throttle = throttle
        self.sockets = {"mqtt": bind_socket("127.0.0.1:0")}
        self.tls_socket = bind_socket("127.0.0.1:0")
        self.service: MqttService | None = None
        self.hooks: Any = None
        self._tls_server: asyncio.Server | None = None

    def start(self) -> PlatformBroker:
        self.server.call(self._start())
        return self

    async def _start(self) -> None:
        platform = self.server.platform
        config = BrokerConfig()
        self.hooks = build_mqtt_hooks(platform, config)
        if self.throttle is not None:
            self.hooks.throttle = self.throttle
        else:  # every test of a module logs in from 127.0.0.1: throttling has a test of its own
            self.hooks.throttle = Throttle(max_failures=1_000_000)
        self.service = MqttService(config, self.hooks)
        await self.service.start(self.sockets)
        broker = self.service.broker
        assert broker is not None
        bootstrap = DeviceBootstrap(platform.registration, broker.publish)
        broker.add_handler("s", bootstrap.handle)
        context = tls_context(TlsConfig(self.certfile, self.keyfile))
        await install_trusted_cas(context, platform.certificates)
        self._tls_server = await serve_tcp(broker, self.tls_socket, ssl_context=context)

    @property
    def port(self) -> int:
        port: int = self.sockets["mqtt"].getsockname()[1]
        return port

    @property
    def tls_port(self) -> int:
        port: int = self.tls_socket.getsockname()[1]
        return port

    def stop(self) -> None:
        async def stop() -> None:
            if self._tls_server is not None:
                self._tls_server.close()
            if self.service is not None:
                await self.service.close()

        self.server.call(stop())
        for sock in (*self.sockets.values(), self.tls_socket):
            sock.close()

    def client_tls(self, device: Issued | None = None, tmp: Path | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if device is not None:
            assert tmp is not None
            certfile, keyfile = device.write(tmp, unique("device"))
            context.load_cert_chain(certfile, keyfile)
        return context


class Device:
    """A paho-mqtt client (v2 callback API, its network loop in a thread) reporting raw reason codes."""

    def __init__(
        self,
        port: int,
        client_id: str,
        protocol: int = V5,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        bind_address: str = "",
    ) -> None:
        self.port = port
        self.protocol = protocol
        self.bind_address = bind_address
        self.paho = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            reconnect_on_failure=False,
        )
        if username is not None or password is not None:
            self.paho.username_pw_set(username, password)
        if tls is not None:
            self.paho.tls_set_context(tls)
        self.connacks: queue.Queue[int | None] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.pubacks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc.value)
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put([rc.value for rc in rcs])
        self.paho.on_publish = lambda c, u, mid, rc, props: self.pubacks.put((mid, rc.value))
        self.paho.on_message = lambda c, u, m: self.messages.put(m)
        # Closed before any CONNACK (e.g. the server refused the TLS client certificate): None.
        self.paho.on_disconnect = lambda c, u, flags, rc, props: self.connacks.put(None)

    def connect(self) -> int | None:
        """The CONNACK reason code (0 accepted); None when the connection closed without one."""
        self.paho.connect("127.0.0.1", self.port, keepalive=30, bind_address=self.bind_address)
        self.paho.loop_start()
        return self.connacks.get(timeout=TIMEOUT)

    def subscribe(self, topic_filter: str, qos: int = 1) -> int:
        """The SUBACK reason code of one filter (granted QoS, or 0x80 / 0x87)."""
        result, _ = self.paho.subscribe(topic_filter, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS
        (code,) = self.subacks.get(timeout=TIMEOUT)
        return code

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 1, retain: bool = False) -> int:
        """QoS 1: the PUBACK reason code (MQTT 3.1.1 has none: always 0)."""
        info = self.paho.publish(topic, payload, qos, retain)
        info.wait_for_publish(timeout=TIMEOUT)
        if qos == 0:
            return 0
        while True:
            mid, code = self.pubacks.get(timeout=TIMEOUT)
            if mid == info.mid:
                return code

    def get(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        try:
            self.paho.disconnect()
        finally:
            self.paho.loop_stop()


def raw_connack(port: int, version: int, client_id: str, username: str | None, password: bytes | None) -> int:
    """The CONNACK return/reason code byte as sent on the wire (independent of paho's conversions)."""
    from tests.broker.raw import RawClient, connect

    with RawClient(port) as raw:
        raw.send(connect(client_id, version=version, username=username, password=password))
        return raw.connack(version).code
