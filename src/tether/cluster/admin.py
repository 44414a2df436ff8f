"""The management API over every node's broker (docs/cluster.md, "Operating on any node").

:class:`ClusterControl` is the cluster's :class:`~tether.adapters.control.BrokerControl`: the composition root
builds it instead when the node is one of several. Its :class:`ClusterClients` answers /api/v5/clients and
/api/v5/subscriptions from this node's broker and, over :mod:`.rpc`, from every other live node's, each
client or subscription carrying the name of the node that holds it; /stats and /metrics come per node.

Listings merge what every node answers: clients in the order their sessions were created, subscriptions
node by node (in the order of the node names). Each node returns the first ``offset + limit`` of what it
keeps and how many in all, so a page and its count are those of the whole cluster. A node that does not
answer within the wait is left out of a listing (logged); an operation on one client (get, kick, subscribe)
that cannot tell whether the silent node holds it answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tether.adapters.clients import (
    ClientDetails,
    ClientFilter,
    ClientNotFound,
    InvalidSubscription,
    SubscribeRefused,
    SubscriptionFilter,
    SubscriptionView,
    TenantClients,
)
from tether.adapters.control import BrokerControl
from tether.core.errors import NotFound, ServiceUnavailable

from .invalidation import Invalidation
from .node import ClusterNode
from .rpc import Rpc, crossing

if TYPE_CHECKING:
    from tether.broker import Broker
    from tether.monitoring import StatsReader
    from tether.services import Services

__all__ = ["ClusterClients", "ClusterControl", "install"]

log = logging.getLogger("tether.cluster")

crossing("ClientNotFound", lambda message, resource: ClientNotFound(""))
crossing("InvalidSubscription", lambda message, resource: InvalidSubscription(message, resource=resource))
crossing("SubscribeRefused", lambda message, resource: SubscribeRefused(message, resource=resource))


def _client_filter(doc: dict[str, Any]) -> ClientFilter:
    return ClientFilter(
        **{**doc, "client_ids": frozenset(doc["client_ids"]), "usernames": frozenset(doc["usernames"])}
    )


def _filter_doc(where: ClientFilter) -> dict[str, Any]:
    doc = dataclasses.asdict(where)
    doc["client_ids"] = sorted(where.client_ids)
    doc["usernames"] = sorted(where.usernames)
    return doc


def _answers(results: dict[str, Any], what: str) -> dict[str, Any]:
    """The answers of the nodes that answered; the silent ones are logged and left out."""
    kept = {}
    for node, result in results.items():
        if isinstance(result, ServiceUnavailable):  # silent, or its broker is stopping
            log.warning("cluster: node %s left out of %s: %s", node, what, result)
        elif isinstance(result, BaseException):
            raise result
        else:
            kept[node] = result
    return kept


class ClusterClients:
    """One tenant's clients on every live node (the interface of adapters/control.py's Clients)."""

    def __init__(self, local: TenantClients, tenant_id: str, rpc: Rpc) -> None:
        self.local = local
        self.tenant_id = tenant_id
        self.rpc = rpc

    def _body(self, **fields: Any) -> dict[str, Any]:
        return {"tenant": self.tenant_id, **fields}

    async def page(self, where: ClientFilter, offset: int, limit: int) -> tuple[list[ClientDetails], int]:
        wanted = offset + limit
        mine, total = await self.local.page(where, 0, wanted)
        body = self._body(where=_filter_doc(where), limit=wanted)
        found = list(mine)
        for answer in _answers(await self.rpc.call_each("clients.page", body), "a client listing").values():
            found.extend(ClientDetails(**item) for item in answer["items"])
            total += int(answer["total"])
        found.sort(key=lambda c: c.created_at)
        return found[offset:wanted], total

    async def _find(self, client_id: str, connected: bool = False) -> ClientDetails:
        """The client as the node holding it shows it (a connected one first); ClientNotFound, or
        NodeUnreachable when a silent node might hold it."""
        candidates: list[ClientDetails] = []
        with contextlib.suppress(ClientNotFound):
            candidates.append(await self.local.get(client_id))
        silent: ServiceUnavailable | None = None
        if not candidates or not candidates[0].connected:
            results = await self.rpc.call_each("clients.get", self._body(client_id=client_id))
            for result in results.values():
                if isinstance(result, ServiceUnavailable):
                    silent = result
                elif isinstance(result, NotFound):
                    continue
                elif isinstance(result, BaseException):
                    raise result
                else:
                    candidates.append(ClientDetails(**result))
        for details in sorted(candidates, key=lambda c: not c.connected):
            if details.connected or not connected:
                return details
        if silent is not None:
            raise silent
        raise ClientNotFound(client_id)

    async def get(self, client_id: str) -> ClientDetails:
        return await self._find(client_id)

    async def kick(self, client_id: str) -> bool:
        """Kick it wherever it is (an offline session is discarded too)."""
        kicked = await self.local.kick(client_id)
        results = await self.rpc.call_each("clients.kick", self._body(client_id=client_id))
        failed = [result for result in results.values() if isinstance(result, BaseException)]
        kicked = kicked or any(result is True for result in results.values())
        if failed and not kicked:
            raise failed[0]  # a silent node may hold it
        for error in failed:
            log.warning("cluster: kick of %s: %s", client_id, error)
        return kicked

    async def subscriptions_of(self, client_id: str) -> list[SubscriptionView]:
        details = await self._find(client_id)
        if details.node == self.rpc.me:
            return await self.local.subscriptions_of(client_id)
        found = await self.rpc.call(details.node, "clients.subscriptions", self._body(client_id=client_id))
        return [SubscriptionView(**item) for item in found]

    async def _holder(self, client_id: str) -> str:
        """The node the client is connected to."""
        return (await self._find(client_id, connected=True)).node

    async def check_subscription(self, client_id: str, topic_filter: str, qos: int, no_local: bool) -> None:
        node = await self._holder(client_id)
        if node == self.rpc.me:
            await self.local.check_subscription(client_id, topic_filter, qos, no_local)
            return
        body = self._body(client_id=client_id, topic_filter=topic_filter, qos=qos, no_local=no_local)
        await self.rpc.call(node, "clients.check", body)

    async def subscribe(
        self,
        client_id: str,
        topic_filter: str,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
    ) -> SubscriptionView:
        options: dict[str, Any] = {
            "qos": qos,
            "no_local": no_local,
            "retain_as_published": retain_as_published,
            "retain_handling": retain_handling,
        }
        node = await self._holder(client_id)
        if node == self.rpc.me:
            return await self.local.subscribe(client_id, topic_filter, **options)
        body = self._body(client_id=client_id, topic_filter=topic_filter, options=options)
        return SubscriptionView(**await self.rpc.call(node, "clients.subscribe", body))

    async def unsubscribe(self, client_id: str, topic_filter: str) -> bool:
        node = await self._holder(client_id)
        if node == self.rpc.me:
            return await self.local.unsubscribe(client_id, topic_filter)
        body = self._body(client_id=client_id, topic_filter=topic_filter)
        return bool(await self.rpc.call(node, "clients.unsubscribe", body))

    async def all_subscriptions(
        self, where: SubscriptionFilter, offset: int, limit: int
    ) -> tuple[list[SubscriptionView], int]:
        wanted = offset + limit
        mine, total = await self.local.all_subscriptions(where, 0, wanted)
        by_node: dict[str, list[SubscriptionView]] = {self.rpc.me: list(mine)}
        body = self._body(where=dataclasses.asdict(where), limit=wanted)
        results = await self.rpc.call_each("subscriptions.page", body)
        for node, answer in _answers(results, "a subscription listing").items():
            by_node[node] = [SubscriptionView(**item) for item in answer["items"]]
            total += int(answer["total"])
        found = [view for node in sorted(by_node) for view in by_node[node]]
        return found[offset:wanted], total


class ClusterControl(BrokerControl):
    """BrokerControl over every live node: serve this node's part to the others with :meth:`serve`."""

    def __init__(self, cluster: ClusterNode, stats: StatsReader | None = None) -> None:
        super().__init__(stats, cluster.name)
        self.rpc = Rpc(cluster)

    def clients(self, tenant_id: str) -> ClusterClients:
        return ClusterClients(self.local_clients(tenant_id), tenant_id, self.rpc)

    async def stats(self, mountpoint: str | None) -> dict[str, dict[str, Any]]:
        figures = {self.node: self.local_stats(mountpoint)}
        results = await self.rpc.call_each("stats", {"mountpoint": mountpoint})
        figures.update(_answers(results, "the statistics"))
        return figures

    async def metrics(self, tenant_id: str, platform: bool) -> dict[str, dict[str, Any]]:
        figures = {self.node: self.local_metrics(tenant_id, platform)}
        results = await self.rpc.call_each("metrics", {"tenant": tenant_id, "platform": platform})
        figures.update(_answers(results, "the metrics"))
        return figures

    async def serve(self) -> None:
        """Answer the other nodes' requests about this node's clients and figures."""

        def local(body: dict[str, Any]) -> TenantClients:
            return self.local_clients(str(body["tenant"]))

        async def page(body: dict[str, Any]) -> dict[str, Any]:
            found, total = await local(body).page(_client_filter(body["where"]), 0, int(body["limit"]))
            return {"items": [dataclasses.asdict(c) for c in found], "total": total}

        async def get(body: dict[str, Any]) -> dict[str, Any]:
            return dataclasses.asdict(await local(body).get(str(body["client_id"])))

        async def kick(body: dict[str, Any]) -> bool:
            return await local(body).kick(str(body["client_id"]))

        async def subscriptions(body: dict[str, Any]) -> list[dict[str, Any]]:
            found = await local(body).subscriptions_of(str(body["client_id"]))
            return [dataclasses.asdict(s) for s in found]

        async def check(body: dict[str, Any]) -> None:
            await local(body).check_subscription(
                str(body["client_id"]), str(body["topic_filter"]), int(body["qos"]), bool(body["no_local"])
            )

        async def subscribe(body: dict[str, Any]) -> dict[str, Any]:
            options = body["options"]
            view = await local(body).subscribe(str(body["client_id"]), str(body["topic_filter"]), **options)
            return dataclasses.asdict(view)

        async def unsubscribe(body: dict[str, Any]) -> bool:
            return await local(body).unsubscribe(str(body["client_id"]), str(body["topic_filter"]))

        async def subscriptions_page(body: dict[str, Any]) -> dict[str, Any]:
            where = SubscriptionFilter(**body["where"])
            found, total = await local(body).all_subscriptions(where, 0, int(body["limit"]))
            return {"items": [dataclasses.asdict(s) for s in found], "total": total}

        async def stats(body: dict[str, Any]) -> dict[str, Any]:
            mountpoint = body.get("mountpoint")
            return self.local_stats(None if mountpoint is None else str(mountpoint))

        async def metrics(body: dict[str, Any]) -> dict[str, Any]:
            return self.local_metrics(str(body["tenant"]), bool(body["platform"]))

        for op, handler in {
            "clients.page": page,
            "clients.get": get,
            "clients.kick": kick,
            "clients.subscriptions": subscriptions,
            "clients.check": check,
            "clients.subscribe": subscribe,
            "clients.unsubscribe": unsubscribe,
            "subscriptions.page": subscriptions_page,
            "stats": stats,
            "metrics": metrics,
        }.items():
            await self.rpc.serve(op, handler)

    async def close(self) -> None:
        await self.rpc.close()


def install(services: Services, broker: Broker) -> Callable[[], Awaitable[None]]:
    """This node's part of operating on any node, on its running broker: answer the others' requests
    (when `services.broker` is a ClusterControl) and drop what they say changed (:mod:`.invalidation`).
    Returns what detaches it."""
    control = services.broker
    assert services.cluster is not None
    invalidation = Invalidation(services.cluster, services, broker)

    async def start() -> None:
        await invalidation.start()
        if isinstance(control, ClusterControl):
            await control.serve()

    started = asyncio.ensure_future(start())

    async def detach() -> None:
        try:
            await started
        except Exception:
            log.exception("cluster: the management part did not start")
        await invalidation.close()
        if isinstance(control, ClusterControl):
            await control.close()

    return detach
