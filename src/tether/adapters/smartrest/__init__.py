"""Cumulocity device integration over MQTT: SmartREST 2.0 (static and custom templates) and JSON via MQTT.

Wiring (the composition root calls this once the broker exists)::

    adapter = smartrest.install(broker, services, templates=storage.smartrest_templates,
                                bootstrap=device_bootstrap.handle, hooks=platform_hooks)
    ...
    await adapter.close()  # before the storage closes: the last ingest batch is written

Modules: csv (the CSV codec), static (upstream static templates), downstream (operations on s/ds),
custom and template_model (s/ut, s/uc, s/dc), errors (s/e), ingest (the batched measurement path),
dispatch (operations to connected devices), devices and session (a connection's devices), adapter
(the broker binding), ports (what custom, dispatch and JSON via MQTT ask of the binding); JSON via MQTT
lives in tether.adapters.c8y_json.
"""

from __future__ import annotations

from typing import Any

from tether.adapters.smartrest.adapter import BootstrapHandler, SmartRestAdapter
from tether.broker import Broker
from tether.services import Services

__all__ = ["SmartRestAdapter", "install"]


def install(
    broker: Broker,
    services: Services,
    *,
    templates: Any = None,
    bootstrap: BootstrapHandler | None = None,
    hooks: Any = None,
    max_batch_rows: int = 500,
    writes_in_flight: int = 1,
) -> SmartRestAdapter:
    """Register the adapter's handlers (roots s, t, q, c, event, alarm, measurement, inventory) with the
    broker, subscribe it to the EventBus (operations), and let it follow subscriptions and disconnections
    through `hooks` (tether.adapters.access.PlatformHooks.listen) when given. `max_batch_rows`: the most
    measurements one ingest write stores; `writes_in_flight`: how many such writes may run at once (1 on
    SQLite: other writers wait at most one of them; more where the database takes concurrent writes)."""
    adapter = SmartRestAdapter(
        broker,
        services,
        templates=templates,
        bootstrap=bootstrap,
        max_batch_rows=max_batch_rows,
        writes_in_flight=writes_in_flight,
    )
    adapter.install()
    if hooks is not None:
        hooks.listen(on_subscribed=adapter.on_subscribed, on_disconnected=adapter.on_disconnected)
    return adapter
