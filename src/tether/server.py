"""Runs every listener of one Tether process in one event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

import uvicorn

from tether.adapters.tls import install_trusted_cas
from tether.bootstrap import (
    Platform,
    build_mqtt_hooks,
    build_platform,
    check_cluster,
    install_adapters,
)
from tether.broker import Broker, BrokerConfig, MqttService
from tether.broker import bind_socket as bind
from tether.broker.listener import tls_context
from tether.cluster import ClusterNode, default_node_name
from tether.config import ConfigError, Settings
from tether.http_writes import TurnWritesProtocol

log = logging.getLogger("tether")


def _shown(sock: socket.socket, scheme: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _tune_gc() -> None:
    """Once the platform is built: its long-lived objects (services, SQLAlchemy's compiled caches,
    modules) leave the collector's generations, and young collections run less often: ingest allocates
    a few objects per message that live until the batch's commit (bench/README.md: with this, no collection
    runs during bench/smartrest_ingest.py's load)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _given(
    context: ssl.SSLContext,
) -> Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]:
    """A uvicorn `ssl_context_factory` answering with a context built already."""

    def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    return factory


class TetherServer:
    """Build the platform, bind the listeners, serve until stopped."""

    def __init__(self, settings: Settings, sockets: dict[str, socket.socket] | None = None) -> None:
        """`sockets`: listeners bound already, by name (a worker of `tether serve --workers`, handed its
        own by the supervising parent: cluster/workers.py); None binds the configured addresses."""
        self.settings = settings
        self._given = sockets
        self.platform: Platform | None = None
        self.http_address: str | None = None
        self._http: dict[str, uvicorn.Server] = {}
        self.mqtt: MqttService | None = None
        self.started = asyncio.Event()

    async def serve(self) -> None:
        settings = self.settings
        # Bind every listener before anything else: a busy port or a bad [mqtt]/[acl]/[tls] section
        # fails fast, before storage is opened.
        http_sockets: dict[str, socket.socket] = {}
        mqtt_sockets: dict[str, socket.socket] = {}
        cluster: ClusterNode | None = None
        try:
            mqtt_config = BrokerConfig.from_settings(settings)
            https_context = self._https_context(mqtt_config)
            for name, address in {"http": settings.http, "https": settings.https}.items():
                if address:
                    http_sockets[name] = self._bind(name, address)
            mqtt_addresses = {
                "mqtt": settings.mqtt,
                "mqtt-tls": settings.mqtt_tls,
                "mqtt-ws": settings.mqtt_ws,
                "mqtt-wss": settings.mqtt_wss,
            }
            for name, address in mqtt_addresses.items():
                if address:
                    mqtt_sockets[name] = self._bind(name, address)
            log.info("Database %s, data dir %s", settings.database_shown, settings.data_dir.resolve())
            if settings.cluster:
                # Joined before the platform is built: its parts subscribe to the other nodes as they are
                # wired (docs/cluster.md).
                check_cluster(settings)
                cluster = ClusterNode(settings.cluster, settings.node or default_node_name())
                await cluster.start()
                log.info("Cluster node %s on %s", cluster.name, settings.cluster)
            listeners = [*http_sockets, *mqtt_sockets]
            platform = self.platform = await build_platform(settings, listeners=listeners, cluster=cluster)
        except BaseException:
            for sock in (*http_sockets.values(), *mqtt_sockets.values()):
                sock.close()
            if cluster is not None:
                await cluster.close()
            raise
        self._show_provisioning(platform)
        detach: list[Callable[[], Awaitable[None] | None]] = []
        try:
            # Device logins against the platform's credentials; sessions and retained messages saved in the
            # platform's database (broker/persistence.py); the protocol adapters installed before the first
            # connection is accepted.
            hooks = build_mqtt_hooks(platform, mqtt_config)
            ssl_context = None
            if mqtt_sockets.keys() & {"mqtt-tls", "mqtt-wss"} and mqtt_config.tls is not None:
                # Device certificates signed by a CA a tenant uploaded log in without a password.
                ssl_context = await install_trusted_cas(
                    tls_context(mqtt_config.tls), platform.services.certificates
                )
            self.mqtt = MqttService(mqtt_config, hooks, platform.storage.broker_state, ssl_context)

            def setup(broker: Broker) -> None:
                detach.extend(install_adapters(platform, broker, hooks))

            for name, url in (await self.mqtt.start(mqtt_sockets, setup)).items():
                platform.services.readiness.mark_ready(name, url)
                log.info("MQTT (%s) listening on %s", name, url)
                if cluster is not None:
                    cluster.advertise(**{name: url})
            _tune_gc()
            await self._serve_http(platform, http_sockets, https_context)
        finally:
            for close in detach:
                done = close()
                if done is not None:
                    await done
            if self.mqtt is not None:
                await self.mqtt.close()
            for sock in (*http_sockets.values(), *mqtt_sockets.values()):
                sock.close()
            await platform.close()
            if cluster is not None:
                await cluster.close()  # the others hear it leave

    def _bind(self, name: str, address: str) -> socket.socket:
        if self._given is None:
            return bind(address)
        if name not in self._given:
            raise ConfigError(f"no {name} socket was handed to this worker")
        return self._given.pop(name)

    def _https_context(self, mqtt_config: BrokerConfig) -> ssl.SSLContext | None:
        """The HTTPS listener's context from `[tls]`: with `cafile`, a client certificate is asked for and
        verified but not required (HTTP callers still authenticate with their credentials)."""
        if not self.settings.https:
            return None
        if mqtt_config.tls is None:
            raise ConfigError("--https needs a [tls] section with certfile and keyfile")
        context = tls_context(mqtt_config.tls, require_client_certificate=False)
        context.set_alpn_protocols(["http/1.1"])
        return context

    async def _serve_http(
        self, platform: Platform, sockets: dict[str, socket.socket], https: ssl.SSLContext | None
    ) -> None:
        """One uvicorn server per listener (the TLS context is per server), all on the same application;
        returns when they have stopped (or one of them failed)."""
        tasks: dict[str, asyncio.Task[None]] = {}
        for name, sock in sockets.items():
            context = https if name == "https" else None
            config = uvicorn.Config(
                platform.app,
                loop="none",
                http=TurnWritesProtocol,  # httptools, head and body in one send (http_writes.py)
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=5,
                ssl_context_factory=None if context is None else _given(context),
            )
            server = self._http[name] = uvicorn.Server(config)
            tasks[name] = asyncio.create_task(server.serve(sockets=[sock]))
        for name, task in tasks.items():
            server = self._http[name]
            # uvicorn exposes readiness only as a flag.
            while not server.started and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            if not server.started:
                break
            address = _shown(sockets[name], name)
            if name == "http":
                self.http_address = address
            if platform.services.cluster is not None:
                platform.services.cluster.advertise(**{name: address})
            platform.services.readiness.mark_ready(name, address)
            log.info("%s listening on %s", name.upper(), address)
        else:
            self.started.set()
        try:
            await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for server in self._http.values():
                server.should_exit = True
            await asyncio.gather(*tasks.values())

    @staticmethod
    def _show_provisioning(platform: Platform) -> None:
        shown = platform.provisioned
        for ignored, variable, user in (
            (shown.admin_password_ignored, "TETHER_ADMIN_PASSWORD", f"{shown.tenant_id}/{shown.admin_user}"),
            (shown.bootstrap_password_ignored, "TETHER_BOOTSTRAP_PASSWORD", "management/devicebootstrap"),
        ):
            if ignored:
                tenant, _, name = user.partition("/")
                log.warning(
                    "%s is ignored: user %s exists with another password (it is used only when the user is "
                    "created); to change it run `tether admin set-password --tenant %s %s`",
                    variable,
                    user,
                    tenant,
                    name,
                )
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
            self.platform.services.realtime.close()  # release held long-polls now, not after the grace period
        for server in self._http.values():
            server.should_exit = True
