"""What the platform counts about itself, for operators: the MQTT broker's figures in EMQX's key names
(/api/v5/stats and /api/v5/metrics), the Prometheus text (/api/v5/prometheus/stats) and the `$SYS` topics
(docs/protocols.md section 8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.monitoring.http import HttpCounts, HttpMetrics
from tether.monitoring.mqtt import MqttCounters
from tether.monitoring.probe import DatabaseProbe
from tether.monitoring.stats import StatsReader, node_name

if TYPE_CHECKING:
    from tether.monitoring.sys_topics import SysTopics

__all__ = [
    "DatabaseProbe",
    "HttpCounts",
    "HttpMetrics",
    "Monitoring",
    "MqttCounters",
    "StatsReader",
    "node_name",
]


class Monitoring:
    """The platform's own counters: HTTP requests, MQTT connection events and ingest, the database probe."""

    def __init__(self, database: DatabaseProbe | None = None) -> None:
        self.http = HttpCounts()
        self.mqtt = MqttCounters()
        self.stats = StatsReader(self.mqtt)
        self.database = database
        self.node = node_name()
        #: The `$SYS` publisher, once the broker runs (bootstrap.install_adapters).
        self.sys_topics: SysTopics | None = None
