"""MQTT for the suites that talk to a real `tether serve` (tests/support.ServerThread): its listeners, and a
paho-mqtt device client (MQTT 5 or 3.1.1, v2 callback API, its network loop in a thread) that reports every
reason code as an int (paho reports the 3.1.1 return codes 4 and 5 as 0x86 and 0x87).

`ServerMqtt` is what the server itself wires (tether.server: tether.bootstrap.build_mqtt_hooks and
install_adapters): the platform hooks, the device-bootstrap handler, the Xyte and SmartREST adapters.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties
from tests.support import ServerThread, unique

from tether.adapters.access import PlatformHooks
from tether.broker import Broker

TIMEOUT = 15.0  # seconds; only guards against hangs
V5 = mqtt.MQTTv5
V311 = mqtt.MQTTv311
PROTOCOLS = [V5, V311]
PROTOCOL_IDS = ["mqtt5", "mqtt311"]

# Reason codes as paho reports them.
BAD_CREDENTIALS = 0x86
NOT_AUTHORIZED = 0x87
CLIENT_ID_NOT_VALID = 0x85


class _Certificate(Protocol):
    def write(self, directory: Path, name: str) -> tuple[str, str]: ...


class ServerMqtt:
    """The MQTT listeners, broker and platform hooks of a running `tether serve`. `ca_file`: the CA that
    issued the certificate of its TLS listener, when it has one."""

    def __init__(self, server: ServerThread, ca_file: Path | None = None) -> None:
        self.server = server
        self.ca_file = ca_file

    def _port(self, listener: str) -> int:
        url: str = self.server.platform.services.readiness.addresses[listener]
        return int(url.rsplit(":", 1)[1])

    @property
    def port(self) -> int:
        return self._port("mqtt")

    @property
    def tls_port(self) -> int:
        return self._port("mqtt-tls")

    @property
    def url(self) -> str:
        url: str = self.server.platform.services.readiness.addresses["mqtt"]
        return url

    @property
    def broker(self) -> Broker:
        service = self.server.server.mqtt
        assert service is not None and service.broker is not None
        return service.broker

    @property
    def hooks(self) -> PlatformHooks:
        hooks = self.broker.hooks
        assert isinstance(hooks, PlatformHooks)
        return hooks

    def lenient_logins(self) -> None:
        """Every test of a module logs in from 127.0.0.1, some with bad credentials on purpose: no throttling
        (tests/security/test_login_throttle.py tests it). The throttle is shared with HTTP."""
        throttle = self.hooks.throttle
        throttle.max_failures = throttle.user_max_failures = 1_000_000

    def client_tls(self, device: _Certificate | None = None, tmp: Path | None = None) -> ssl.SSLContext:
        """A client context trusting the TLS listener, presenting the device's certificate if given."""
        assert self.ca_file is not None, "the server has no TLS listener"
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if device is not None:
            assert tmp is not None
            certfile, keyfile = device.write(tmp, unique("device"))
            context.load_cert_chain(certfile, keyfile)
        return context


class Device:
    """A paho-mqtt client reporting raw reason codes; received messages are kept in arrival order and taken
    one at a time, of any topic (`get()`) or of one (`get(topic)`, `text(topic)`)."""

    def __init__(
        self,
        port: int,
        client_id: str,
        protocol: int = V5,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        will: tuple[str, str] | None = None,
        bind_address: str = "",
        transport: str = "tcp",
        session_expiry: int | None = None,
    ) -> None:
        """`transport="websockets"`: MQTT over WebSocket (path /mqtt; on TLS with `tls`). `session_expiry`: a
        persistent session (MQTT 5 Clean Start 0 with this Session Expiry Interval, 3.1.1 Clean Session 0);
        None: a clean one."""
        self.port = port
        self.client_id = client_id
        self.protocol = protocol
        self.bind_address = bind_address
        self.session_expiry = session_expiry
        persistent = {"clean_session": False} if session_expiry is not None and protocol != V5 else {}
        self.paho = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            reconnect_on_failure=False,
            transport="websockets" if transport == "websockets" else "tcp",
            **persistent,  # type: ignore[arg-type]
        )
        if transport == "websockets":
            self.paho.ws_set_options(path="/mqtt")
        if username is not None or password is not None:
            self.paho.username_pw_set(username, password)
        if tls is not None:
            self.paho.tls_set_context(tls)
        if will is not None:
            self.paho.will_set(will[0], will[1], qos=1)
        self._changed = threading.Condition()
        self._connacks: list[int | None] = []
        self._subacks: dict[int, list[int]] = {}
        self._pubacks: dict[int, int] = {}
        self._messages: list[mqtt.MQTTMessage] = []
        #: Reason codes of the connection's end (the server's DISCONNECT on MQTT 5, else paho's code).
        self.disconnects: list[int] = []
        self._flags: list[bool] = []
        self.paho.on_connect = lambda c, u, flags, rc, props: self._add(self._connected, flags, rc.value)
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self._add(
            self._subacks.__setitem__, mid, [rc.value for rc in rcs]
        )
        self.paho.on_publish = lambda c, u, mid, rc, props: self._add(
            self._pubacks.__setitem__, mid, rc.value
        )
        self.paho.on_message = lambda c, u, message: self._add(self._messages.append, message)
        # Closed before any CONNACK (e.g. the server refused the TLS client certificate): None.
        self.paho.on_disconnect = lambda c, u, flags, rc, props: self._add(self._disconnected, rc.value)

    def _connected(self, flags: Any, code: int) -> None:
        self._flags.append(bool(flags.session_present))
        self._connacks.append(code)

    def _disconnected(self, code: int) -> None:
        self._connacks.append(None)
        self.disconnects.append(code)

    def _add(self, store: Any, *args: Any) -> None:
        with self._changed:
            store(*args)
            self._changed.notify_all()

    def _wait(self, ready: Any, timeout: float = TIMEOUT) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(ready, timeout=timeout))

    def connect(self) -> int | None:
        """The CONNACK reason code (0 accepted); None when the connection closed without one."""
        if self.session_expiry is not None and self.protocol == V5:
            properties = PahoProperties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.session_expiry
            self.paho.connect(
                "127.0.0.1",
                self.port,
                keepalive=60,
                bind_address=self.bind_address,
                clean_start=False,
                properties=properties,
            )
        else:
            self.paho.connect("127.0.0.1", self.port, keepalive=60, bind_address=self.bind_address)
        self.paho.loop_start()
        assert self._wait(lambda: self._connacks), f"{self.client_id}: no CONNACK"
        return self._connacks[0]

    def subscribe(self, topic_filter: str, qos: int = 1) -> int:
        """The SUBACK reason code of one filter (granted QoS, or 0x80 / 0x87)."""
        result, mid = self.paho.subscribe(topic_filter, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS
        assert self._wait(lambda: mid in self._subacks), f"no SUBACK for {topic_filter}"
        (code,) = self._subacks.pop(mid)
        return code

    def send(self, topic: str, payload: Any = b"", qos: int = 1, retain: bool = False, **kwargs: Any) -> int:
        """Publish without waiting; returns the message id (see `ack`). kwargs: paho's (properties)."""
        return self.paho.publish(topic, payload, qos, retain, **kwargs).mid

    def ack(self, mid: int) -> int:
        """The PUBACK reason code of a QoS 1 message sent (MQTT 3.1.1 has none: 0); 0 once a QoS 0 one is
        written."""
        assert self._wait(lambda: mid in self._pubacks), f"no PUBACK for {mid}"
        return self._pubacks.pop(mid)

    def publish(
        self, topic: str, payload: Any = b"", qos: int = 1, retain: bool = False, **kwargs: Any
    ) -> int:
        """Publish and return the PUBACK reason code (0 for MQTT 3.1.1 and QoS 0) once acknowledged."""
        return self.ack(self.send(topic, payload, qos, retain, **kwargs))

    def get(self, topic: str | None = None, timeout: float = TIMEOUT) -> mqtt.MQTTMessage:
        """The first message not yet taken (of `topic`, if given)."""
        found: list[mqtt.MQTTMessage] = []

        def take() -> bool:
            for i, message in enumerate(self._messages):
                if topic is None or message.topic == topic:
                    found.append(self._messages.pop(i))
                    return True
            return False

        assert self._wait(take, timeout), f"{self.client_id}: no message on {topic or 'any topic'}"
        return found[0]

    def text(self, topic: str) -> str:
        """The payload of the next message on `topic`, decoded."""
        payload: bytes = self.get(topic).payload
        return payload.decode()

    def lines(self, topic: str, count: int) -> list[str]:
        return [self.text(topic) for _ in range(count)]

    def none_within(self, seconds: float = 0.5, topic: str | None = None) -> bool:
        """Whether no message (on `topic`, if given) arrives within the time."""
        return not self._wait(lambda: any(topic in (None, m.topic) for m in self._messages), seconds)

    def wait_closed(self) -> int:
        """The reason code the connection ended with, once it has."""
        assert self._wait(lambda: self.disconnects), f"{self.client_id}: still connected"
        return self.disconnects[0]

    def session_present(self) -> bool:
        """Whether the CONNACK said Session Present (call after connect())."""
        return bool(self._flags and self._flags[0])

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


def raw_connack(port: int, version: int, client_id: str, username: str | None, password: bytes | None) -> int:
    """The CONNACK return/reason code byte as sent on the wire (independent of paho's conversions)."""
    from tests.broker.raw import RawClient, connect

    with RawClient(port) as raw:
        raw.send(connect(client_id, version=version, username=username, password=password))
        code: int = raw.connack(version).code
        return code
