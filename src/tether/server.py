"""Runs every listener of one Tether process in one event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Awaitable, Callable

import uvicorn

from tether.adapters.tls import install_trusted_cas
from tether.bootstrap import Platform, build_mqtt_hooks, build_platform, install_adapters
from tether.broker import Broker, BrokerConfig, MqttService
from tether.broker import bind_socket as bind
from tether.broker.listener import tls_context
from tether.config import Settings

log = logging.getLogger("tether")


def _shown(sock: socket.socket, scheme: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _tune_gc() -> None:
    """Once the platform is built: its long-lived objects (services, SQLAlchemy's compiled caches,
    modules) leave the collector's generations, and young collections run less often: ingest allocates
    a few objects per message that live until the batch's commit (issue 6 section 9; with this, no
    collection runs during bench/smartrest_ingest.py's load)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class TetherServer:
    """Build the platform, bind the listeners, serve until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.platform: Platform | None = None
        self.http_address: str | None = None
        self._http: uvicorn.Server | None = None
        self.mqtt: MqttService | None = None
        self.started = asyncio.Event()

    async def serve(self) -> None:
        settings = self.settings
        # Bind every listener before anything else: a busy port or a bad [mqtt]/[acl]/[tls] section
        # fails fast, before storage is opened.
        http_socket = bind(settings.http)
        mqtt_sockets: dict[str, socket.socket] = {}
        try:
            mqtt_config = BrokerConfig.from_settings(settings)
            mqtt_addresses = {
                "mqtt": settings.mqtt,
                "mqtt-tls": settings.mqtt_tls,
                "mqtt-ws": settings.mqtt_ws,
            }
            for name, address in mqtt_addresses.items():
                if address:
                    mqtt_sockets[name] = bind(address)
            platform = self.platform = await build_platform(settings, listeners=["http", *mqtt_sockets])
        except BaseException:
            for sock in (http_socket, *mqtt_sockets.values()):
                sock.close()
            raise
        self._show_generated_passwords(platform)
        config = uvicorn.Config(
            platform.app,
            loop="none",
            http="httptools",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._http = uvicorn.Server(config)
        detach: list[Callable[[], Awaitable[None] | None]] = []
        try:
            # Device logins against the platform's credentials; sessions and retained messages saved in the
            # platform's database (broker/persistence.py); the protocol adapters installed before the first
            # connection is accepted.
            hooks = build_mqtt_hooks(platform, mqtt_config)
            ssl_context = None
            if "mqtt-tls" in mqtt_sockets and mqtt_config.tls is not None:
                # Device certificates signed by a CA a tenant uploaded log in without a password.
                ssl_context = await install_trusted_cas(tls_context(mqtt_config.tls), platform.certificates)
            self.mqtt = MqttService(mqtt_config, hooks, platform.storage.broker_state, ssl_context)

            def setup(broker: Broker) -> None:
                detach.extend(install_adapters(platform, broker, hooks))

            for name, url in (await self.mqtt.start(mqtt_sockets, setup)).items():
                platform.readiness.mark_ready(name, url)
                log.info("MQTT (%s) listening on %s", name, url)
            _tune_gc()
            http_task = asyncio.create_task(self._http.serve(sockets=[http_socket]))
            # uvicorn exposes readiness only as a flag.
            while not self._http.started and not http_task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            if self._http.started:
                self.http_address = _shown(http_socket, "http")
                platform.readiness.mark_ready("http", self.http_address)
                log.info("HTTP listening on %s", self.http_address)
                self.started.set()
            await http_task
        finally:
            for close in detach:
                done = close()
                if done is not None:
                    await done
            if self.mqtt is not None:
                await self.mqtt.close()
            for sock in (http_socket, *mqtt_sockets.values()):
                sock.close()
            await platform.close()

    @staticmethod
    def _show_generated_passwords(platform: Platform) -> None:
        shown = platform.provisioned
        if shown.admin_password:
            log.warning(
                "Created tenant %s admin user %s with generated password: %s",
                shown.tenant_id,
                shown.admin_user,
                shown.admin_password,
            )
        if shown.bootstrap_password:
            log.warning(
                "Created bootstrap user management/devicebootstrap with generated password: %s",
                shown.bootstrap_password,
            )

    def stop(self) -> None:
        if self.platform is not None:
            self.platform.realtime.close()  # release held long-polls now, not after the grace period
        if self._http is not None:
            self._http.should_exit = True
