"""The running sinks of every tenant, kept in step with the connector service: a `ConnectorRuntime` per
connector (its client, health checks, status) and an `ActionRunner` per action (buffer, task, metrics). The
rule engine hands an output to `offer()`, which returns at once. When an action or its connector changes,
its runner is replaced and the outputs still waiting move to the new one."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

from tether.rules.connector_service import ConnectorService
from tether.rules.connectors import Connector, check_connector, sink_id

from .base import SinkClient, SinkUnavailable, reason_of
from .http import HttpClient
from .mqtt import MqttClient
from .mysql import MysqlClient
from .postgres import PostgresClient
from .queue import OutputQueue
from .redis import RedisClient
from .runner import DISCONNECTED, ActionMetrics, ActionRunner, ConnectorRuntime

__all__ = ["SinkManager", "make_client"]

log = logging.getLogger(__name__)


def make_client(kind: str, name: str, config: dict[str, Any]) -> SinkClient:
    if kind == "http":
        return HttpClient(config)
    if kind == "pgsql":
        return PostgresClient(config)
    if kind == "mysql":
        return MysqlClient(config)
    if kind == "redis":
        return RedisClient(config)
    return MqttClient(config, name)


class SinkManager:
    def __init__(self, service: ConnectorService, spill_dir: Path | None = None) -> None:
        """`spill_dir`: where buffers with `buffer_mode = "volatile_offload"` spill (emptied at start)."""
        self.service = service
        self.spill_dir = spill_dir
        self._connectors: dict[str, dict[str, ConnectorRuntime]] = {}
        self._runners: dict[str, dict[str, ActionRunner]] = {}
        self._metrics: dict[tuple[str, str], ActionMetrics] = {}
        self._started = False
        self._closing: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------------ life

    def start(self) -> None:
        if self.spill_dir is not None:  # volatile: what a previous process spilled is not sent again
            shutil.rmtree(self.spill_dir, ignore_errors=True)
        self._started = True
        self.service.listeners.append(self._sync)
        for tenant_id in self.service.tenants():
            self._sync(tenant_id)

    async def stop(self) -> None:
        self._started = False
        if self._sync in self.service.listeners:
            self.service.listeners.remove(self._sync)
        for runners in self._runners.values():
            for runner in runners.values():
                runner.stop().close()
        closing = [c.close() for tenant in self._connectors.values() for c in tenant.values()]
        self._runners.clear()
        self._connectors.clear()
        await asyncio.gather(*closing, *self._closing, return_exceptions=True)

    def _close_later(self, runtime: ConnectorRuntime) -> None:
        task = asyncio.get_running_loop().create_task(runtime.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _sync(self, tenant_id: str) -> None:
        """Bring the tenant's runtimes in step with its connectors and actions."""
        if not self._started:
            return
        runtimes = self._connectors.setdefault(tenant_id, {})
        wanted = self.service.connectors_of(tenant_id)
        for cid in list(runtimes):
            if wanted.get(cid) is not runtimes[cid].connector:
                self._close_later(runtimes.pop(cid))
        for cid, connector in wanted.items():
            if cid not in runtimes:
                runtime = runtimes[cid] = ConnectorRuntime(
                    connector, make_client(connector.type, connector.name, connector.config)
                )
                runtime.start()
        runners = self._runners.setdefault(tenant_id, {})
        actions = self.service.actions_of(tenant_id)
        for aid in list(runners):
            runner = runners[aid]
            loaded = actions.get(aid)
            found = (
                None if loaded is None else runtimes.get(sink_id(loaded.action.type, loaded.action.connector))
            )
            if loaded is runner.loaded and found is runner.connector:
                continue
            pending = runner.stop()
            del runners[aid]
            if loaded is None:
                self._metrics.pop((tenant_id, aid), None)
                pending.close()
                if len(pending):
                    log.warning(
                        "action %s of tenant %s deleted: %d outputs not sent", aid, tenant_id, len(pending)
                    )
            else:
                runners[aid] = self._runner(tenant_id, aid, pending)
        for aid in actions:
            if aid not in runners:
                runners[aid] = self._runner(tenant_id, aid, None)
        if not runtimes and not runners:
            self._connectors.pop(tenant_id, None)
            self._runners.pop(tenant_id, None)

    def _runner(self, tenant_id: str, aid: str, pending: OutputQueue | None) -> ActionRunner:
        loaded = self.service.actions_of(tenant_id)[aid]
        runtime = self._connectors.get(tenant_id, {}).get(
            sink_id(loaded.action.type, loaded.action.connector)
        )
        metrics = self._metrics.setdefault((tenant_id, aid), ActionMetrics())
        runner = ActionRunner(loaded, runtime, metrics, pending, self.spill_dir)
        runner.start()
        return runner

    # ------------------------------------------------------------------------------------------ the engine

    def offer(self, tenant_id: str, action_id: str, output: dict[str, Any], key: object = None) -> bool:
        """Hand an output to the action's buffer; False when there is no such action or it dropped it.
        `key`: whose order to keep (the clientid of the message or event the output came from)."""
        runner = self._runners.get(tenant_id, {}).get(action_id)
        return runner is not None and runner.offer(output, key)

    # ------------------------------------------------------------------------------------------ operators

    def status(self, connector: Connector) -> tuple[str, str]:
        runtime = self._connectors.get(connector.tenant_id, {}).get(connector.id)
        if runtime is None:
            return DISCONNECTED, "not started"
        return runtime.status, runtime.reason

    async def check(self, connector: Connector) -> tuple[str, str]:
        """Check the connector's server now (POST /connectors/{id}/start, after a create or an update)."""
        runtime = self._connectors.get(connector.tenant_id, {}).get(connector.id)
        if runtime is not None and connector.enable:
            await runtime.check()
        return self.status(connector)

    async def probe(self, kind: str, name: str, config: dict[str, Any]) -> str | None:
        """POST /connectors_probe: whether a configuration reaches its server (None) or why not."""
        client = make_client(kind, name, check_connector(kind, config))
        try:
            await asyncio.wait_for(client.check(), 20)
        except SinkUnavailable as exc:
            return exc.reason
        except Exception as exc:  # what the client did not foresee is still an answer in words
            return reason_of(exc)
        finally:
            await client.close()
        return None

    def action_metrics(self, tenant_id: str, action_id: str) -> dict[str, Any]:
        metrics = self._metrics.setdefault((tenant_id, action_id), ActionMetrics())
        runner = self._runners.get(tenant_id, {}).get(action_id)
        # EMQX's queuing counts what waits, in memory or spilled; inflight what is being sent.
        if runner is None:
            return metrics.render(0, 0)
        return metrics.render(runner.queuing, runner.inflight)

    def reset_metrics(self, tenant_id: str, action_id: str) -> None:
        self._metrics.setdefault((tenant_id, action_id), ActionMetrics()).reset()

    def action_status(self, tenant_id: str, action_id: str) -> tuple[str, str]:
        runner = self._runners.get(tenant_id, {}).get(action_id)
        if runner is None or runner.connector is None:
            return DISCONNECTED, "connector not found"
        if not runner.loaded.action.enable:
            return DISCONNECTED, "the action is disabled"
        return runner.connector.status, runner.connector.reason
