"""The MQTT bridge sink (EMQX's `mqtt` connector, egress): publishes each output to another broker with
aiomqtt (asyncio over paho-mqtt), the action's remote topic, QoS, retain and payload templates. A batch is
published in order and waited for (PUBACK / PUBCOMP for QoS 1 and 2); a lost connection makes the server
unavailable and the batch is published again once it is back (at least once). TLS with the connector's
`ssl` (connectors/tls.py)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from typing import Any

import aiomqtt

from tether.rules.connector_service import SinkTemplate
from tether.rules.connectors import duration_ms
from tether.rules.sink_templates import MqttTemplate

from .base import Outcome, SinkUnavailable, host_port, reason_of
from .tls import client_context

__all__ = ["MqttClient"]

_VERSIONS = {
    "v3": aiomqtt.ProtocolVersion.V31,
    "v4": aiomqtt.ProtocolVersion.V311,
    "v5": aiomqtt.ProtocolVersion.V5,
}


class MqttClient:
    def __init__(self, config: dict[str, Any], connector_name: str) -> None:
        self.config = config
        self.client_id = (config["clientid_prefix"] or "tether") + f":{connector_name}:{secrets.token_hex(4)}"
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> aiomqtt.Client:
        async with self._lock:
            if self._client is None:
                c = self.config
                host, port = host_port(c["server"], 1883)
                version = _VERSIONS[c["proto_ver"]]
                tls = client_context(c)
                keepalive = (duration_ms(c["keepalive"], "keepalive", "connectors") or 160_000) // 1000
                client = aiomqtt.Client(
                    host,
                    port,
                    identifier=self.client_id,
                    username=c["username"] or None,
                    password=c["password"] or None,
                    protocol=version,
                    keepalive=max(1, keepalive),
                    timeout=15,
                    tls_context=tls,
                    tls_insecure=(not tls.check_hostname) if tls is not None else None,
                    **(
                        {"clean_start": c["clean_start"]}
                        if version is aiomqtt.ProtocolVersion.V5
                        else {"clean_session": c["clean_start"]}
                    ),
                )
                try:
                    await client.__aenter__()
                except (aiomqtt.MqttError, OSError) as exc:
                    raise SinkUnavailable(reason_of(exc)) from None
                self._client = client
            return self._client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # already gone: nothing to close
                await asyncio.wait_for(client.__aexit__(None, None, None), 5)

    async def check(self) -> None:
        client = await self._connected()
        if not client._client.is_connected():
            await self._drop()
            raise SinkUnavailable("the connection to the broker was lost")

    async def send(self, template: SinkTemplate, outputs: Sequence[dict[str, Any]]) -> list[Outcome]:
        assert isinstance(template, MqttTemplate)
        client = await self._connected()
        outcomes: list[Outcome] = []
        publishes = []
        for output in outputs:
            try:
                topic, payload = template.render(output)
                aiomqtt.Topic(topic)
            except Exception as exc:  # a topic template that gave no valid topic
                outcomes.append(f"cannot render the message: {reason_of(exc)}")
                continue
            outcomes.append(None)
            publishes.append(
                client.publish(topic, payload, qos=template.qos, retain=template.retain, timeout=30)
            )
        try:
            await asyncio.gather(*publishes)
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            await self._drop()
            raise SinkUnavailable(reason_of(exc)) from None
        return outcomes

    async def close(self) -> None:
        await self._drop()
