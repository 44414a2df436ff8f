"""The Prometheus text exposition of /api/v5/prometheus/stats (prometheus-client renders it): the broker's
figures under EMQX's names (`emqx_connections_count`, `emqx_messages_received_total`, ...) and Tether's own:
HTTP requests by route and status, MQTT messages ingested per protocol family, database latency, queue
lengths and the rule engine's figures (each rule's metrics, inputs dropped when its queue was full).
Everything is read at scrape time from counters kept elsewhere (http.py, mqtt.py, the broker, the rules)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from tether.monitoring.http import HttpCounts
from tether.monitoring.mqtt import MqttCounters

if TYPE_CHECKING:
    from tether.broker import Broker

__all__ = ["CONTENT_TYPE", "Scrape", "render"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


def _name(key: str) -> str:
    return "emqx_" + key.replace(".", "_")


@dataclass(frozen=True, slots=True)
class Scrape:
    """One scrape's inputs: figures read on the loop before rendering."""

    stats: dict[str, int]
    metrics: dict[str, int]
    http: HttpCounts
    mqtt: MqttCounters
    broker: Broker | None
    database_latency: float | None
    realtime_sessions: int
    #: Each rule's (tenant, id, metrics in EMQX's names); the engine's queue length and inputs it dropped.
    rules: tuple[tuple[str, str, dict[str, int]], ...] = ()
    rule_engine: tuple[int, int] = (0, 0)


class _Collector(Collector):
    def __init__(self, scrape: Scrape) -> None:
        self.scrape = scrape

    def collect(self) -> Iterator[Metric]:
        scrape = self.scrape
        for key, value in scrape.stats.items():
            yield GaugeMetricFamily(_name(key), f"EMQX stats {key}", value=value)
        for key, value in scrape.metrics.items():
            yield CounterMetricFamily(_name(key), f"EMQX metrics {key}", value=value)
        yield from self._http()
        ingested = CounterMetricFamily(
            "tether_mqtt_ingested_messages", "MQTT messages handed to the platform", labels=["family"]
        )
        for family, count in sorted(scrape.mqtt.ingested.items()):
            ingested.add_metric([family], count)
        yield ingested
        if scrape.database_latency is not None:
            yield GaugeMetricFamily(
                "tether_database_latency_seconds",
                "One database round trip (SELECT 1), measured at this scrape",
                value=scrape.database_latency,
            )
        yield from self._queues()
        yield from self._rules()

    def _rules(self) -> Iterable[Metric]:
        queued, dropped = self.scrape.rule_engine
        yield GaugeMetricFamily(
            "tether_rule_engine_queued", "Inputs waiting for the rule engine", value=queued
        )
        yield CounterMetricFamily(
            "tether_rule_engine_dropped", "Inputs the rule engine's full queue dropped", value=dropped
        )
        family = CounterMetricFamily(
            "tether_rule",
            "A rule's metrics (GET /api/v5/rules/{id}/metrics)",
            labels=["tenant", "rule", "metric"],
        )
        for tenant, rule_id, metrics in self.scrape.rules:
            for key, value in metrics.items():
                family.add_metric([tenant, rule_id, key], value)
        yield family

    def _http(self) -> Iterable[Metric]:
        requests = SummaryMetricFamily(
            "tether_http_requests",
            "HTTP requests (count) and the seconds spent answering them (sum), by route and status",
            labels=["method", "route", "status"],
        )
        for (method, route, status), (count, seconds) in sorted(self.scrape.http.requests.items()):
            requests.add_metric([method, route, str(status)], count_value=int(count), sum_value=seconds)
        return [requests]

    def _queues(self) -> Iterable[Metric]:
        broker = self.scrape.broker
        figures: list[tuple[str, str, float]] = [
            ("tether_realtime_sessions", "Real-time notification clients", self.scrape.realtime_sessions)
        ]
        if broker is not None:
            queued = inflight = awaiting_rel = 0
            for session in broker.sessions:
                queued += len(session.outbox.queue)
                inflight += len(session.outbox.inflight)
                awaiting_rel += len(session.awaiting_rel)
            figures += [
                ("tether_mqtt_queued_messages", "Messages queued in sessions (mqueue)", queued),
                ("tether_mqtt_inflight_messages", "QoS 1/2 messages sent and not acknowledged", inflight),
                ("tether_mqtt_awaiting_rel", "QoS 2 messages received, waiting for PUBREL", awaiting_rel),
                ("tether_mqtt_pending_connects", "Connections in their handshake", broker.handshakes.count),
            ]
            yield CounterMetricFamily(
                "tether_mqtt_refused_connects",
                "Connections refused while too many handshakes were pending",
                value=broker.handshakes.refused,
            )
        for name, text, value in figures:
            yield GaugeMetricFamily(name, text, value=value)


def render(scrape: Scrape) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(scrape))
    return generate_latest(registry)
