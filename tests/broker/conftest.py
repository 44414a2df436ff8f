"""A broker on an ephemeral loopback port, on a uvloop loop in a background thread, and paho-mqtt helpers."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest
import uvloop
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties as PahoProperties
from paho.mqtt.reasoncodes import ReasonCode as PahoReasonCode

from tether.broker import Broker, BrokerConfig, BrokerStore, Hooks, MqttService, bind_socket

T = TypeVar("T")
TIMEOUT = 10.0  # seconds; only guards against hangs


class BrokerThread:
    """An :class:`MqttService` on 127.0.0.1 (TCP; WebSocket and TLS if asked) in its own event-loop thread."""

    def __init__(
        self,
        config: BrokerConfig,
        hooks: Hooks | None = None,
        websocket: bool = False,
        store: BrokerStore | None = None,
    ) -> None:
        self.config = config
        self.service = MqttService(config, hooks, store)
        self.sockets = {"mqtt": bind_socket("127.0.0.1:0")}
        if websocket:
            self.sockets["mqtt-ws"] = bind_socket("127.0.0.1:0")
        if config.tls is not None:
            self.sockets["mqtt-tls"] = bind_socket("127.0.0.1:0")
        self.loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mqtt-broker", daemon=True)

    def start(self) -> BrokerThread:
        self._thread.start()
        self.call(self.service.start(self.sockets))
        return self

    def port_of(self, name: str) -> int:
        port: int = self.sockets[name].getsockname()[1]
        return port

    @property
    def port(self) -> int:
        return self.port_of("mqtt")

    @property
    def broker(self) -> Broker:
        assert self.service.broker is not None
        return self.service.broker

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=TIMEOUT)

    def run(self, fn: Callable[[], T]) -> T:
        """Run a function on the broker's loop (to inspect its state safely)."""

        async def call() -> T:
            return fn()

        return self.call(call())

    def wait_until(self, predicate: Callable[[Broker], bool]) -> None:
        """Wait (polling on the broker's loop) until ``predicate(broker)`` holds."""

        async def poll() -> None:
            while not predicate(self.broker):  # noqa: ASYNC110 - the broker has no event to wait on
                await asyncio.sleep(0.01)

        self.call(poll())

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            self.call(self.service.close())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=TIMEOUT)
        for sock in self.sockets.values():
            sock.close()
        self.loop.close()


BrokerFactory = Callable[..., BrokerThread]


@pytest.fixture
def make_broker() -> Iterator[BrokerFactory]:
    """Start brokers with config overrides: ``make_broker(max_keep_alive=60, hooks=..., websocket=True)``.

    A ``tls=TlsConfig(...)`` override adds a TLS listener; ``store=`` persists to a :class:`BrokerStore`.
    """
    started: list[BrokerThread] = []

    def make(
        *,
        hooks: Hooks | None = None,
        websocket: bool = False,
        store: BrokerStore | None = None,
        **overrides: Any,
    ) -> BrokerThread:
        overrides.setdefault("allow_anonymous", True)
        config = BrokerConfig(**overrides)
        thread = BrokerThread(config, hooks, websocket, store).start()
        started.append(thread)
        return thread

    yield make
    for thread in started:
        thread.stop()


@pytest.fixture
def broker(make_broker: BrokerFactory) -> BrokerThread:
    return make_broker()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Client:
    """A paho-mqtt client (v2 callback API) with its network loop in a thread and blocking helpers."""

    def __init__(
        self,
        port: int,
        client_id: str = "",
        *,
        protocol: int = mqtt.MQTTv5,
        transport: str = "tcp",
        **kwargs: Any,
    ) -> None:
        self.port = port
        self.protocol = protocol
        self.transport = transport
        self.paho = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            transport=transport,  # type: ignore[arg-type]
            reconnect_on_failure=False,  # a test decides when to reconnect
            **kwargs,
        )
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connacks: queue.Queue[tuple[Any, PahoReasonCode, PahoProperties | None]] = queue.Queue()
        self.subacks: queue.Queue[list[PahoReasonCode]] = queue.Queue()
        self.unsubacks: queue.Queue[list[PahoReasonCode]] = queue.Queue()
        self.disconnects: queue.Queue[PahoReasonCode] = queue.Queue()
        self.paho.on_message = lambda c, u, m: self.messages.put(m)
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connacks.put((flags, rc, props))
        self.paho.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(list(rcs))
        self.paho.on_unsubscribe = lambda c, u, mid, rcs, props: self.unsubacks.put(list(rcs))
        self.paho.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.put(rc)

    def connect(
        self, *, clean_start: bool = True, keepalive: int = 60, properties: PahoProperties | None = None
    ) -> tuple[Any, PahoReasonCode, PahoProperties | None]:
        if self.protocol == mqtt.MQTTv5:
            self.paho.connect(
                "127.0.0.1", self.port, keepalive=keepalive, clean_start=clean_start, properties=properties
            )
        else:
            self.paho.connect("127.0.0.1", self.port, keepalive=keepalive)
        self.paho.loop_start()
        result = self.connacks.get(timeout=TIMEOUT)
        assert not result[1].is_failure, f"CONNACK {result[1]}"
        return result

    def subscribe(self, topic: str | list[tuple[str, Any]], qos: int = 0, **kwargs: Any) -> list[Any]:
        result, _ = self.paho.subscribe(topic, qos, **kwargs)
        assert result == mqtt.MQTT_ERR_SUCCESS
        return self.subacks.get(timeout=TIMEOUT)

    def publish(
        self, topic: str, payload: bytes = b"", qos: int = 0, retain: bool = False, **kw: Any
    ) -> None:
        info = self.paho.publish(topic, payload, qos, retain, **kw)
        info.wait_for_publish(timeout=TIMEOUT)
        assert info.is_published()

    def get(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def get_many(self, n: int) -> list[mqtt.MQTTMessage]:
        return [self.get() for _ in range(n)]

    def none_within(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def disconnect(self, **kwargs: Any) -> None:
        self.paho.disconnect(**kwargs)
        self.paho.loop_stop()

    def stop(self) -> None:
        """Stop the network loop and drop the socket without DISCONNECT (an abnormal close)."""
        self.paho.loop_stop()
        sock = self.paho.socket()
        if sock is not None:
            sock.close()


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    """Make paho clients; all are stopped at the end of the test."""
    made: list[Client] = []

    def make(port: int, client_id: str = "", **kwargs: Any) -> Client:
        client = Client(port, client_id or unique("paho"), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        with contextlib.suppress(Exception):
            client.paho.disconnect()  # first: it wakes the network loop, which then ends at once
        client.paho.loop_stop()
