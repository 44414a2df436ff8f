"""Rules survive a restart of the server, on both backends (a module of its own: the PostgreSQL half reuses
the test process's database, which no other server may be using meanwhile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.management.sink_servers import Webhook, wait_until
from tests.mqtt_device import V5, Device, ServerMqtt, unique
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD, ServerThread, backends, start_server

from tether.config import Settings

RULES = "/api/v5/rules"


def restart(tmp: Path, database_url: str) -> ServerThread:
    """A server over an existing database (start_server would empty it)."""
    settings = Settings(
        data_dir=tmp,
        database_url=database_url,
        http="127.0.0.1:0",
        mqtt="127.0.0.1:0",
        admin_password=ADMIN_PASSWORD,
        bootstrap_password=BOOTSTRAP_PASSWORD,
    )
    return ServerThread(settings).start()


@pytest.mark.parametrize("backend", backends())
def test_rules_survive_a_restart(tmp_path_factory: pytest.TempPathFactory, backend: str) -> None:
    """Rules, connectors and actions (secrets kept, not shown) survive a restart, and run after it."""
    tmp = tmp_path_factory.mktemp("restart")
    first = start_server(backend, tmp)
    webhook = Webhook()
    webhook.start()
    rule = {
        "id": "kept",
        "name": "kept",
        "sql": 'SELECT payload FROM "keep/#"',
        "actions": [
            {"function": "republish", "args": {"topic": "kept/out", "qos": 1, "payload": "${payload}"}},
            "http:kept",
        ],
        "metadata": {"k": [1]},
    }
    connector = {"type": "http", "name": "kept", "url": webhook.url, "headers": {"x-a": "b"}}
    db = {"type": "pgsql", "name": "db", "server": "127.0.0.1:9", "database": "d", "password": "s3cret"}
    action = {"type": "http", "name": "kept", "connector": "kept", "parameters": {"body": "${payload}"}}
    try:
        with httpx.Client(base_url=first.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
            assert admin.post("/api/v5/connectors", json=connector).status_code == 201
            assert admin.post("/api/v5/connectors", json=db).status_code == 201
            assert admin.post("/api/v5/actions", json=action).status_code == 201
            assert admin.post(RULES, json=rule).status_code == 201
            before = admin.get(f"{RULES}/kept").json()
            connectors_before = _stable(admin.get("/api/v5/connectors").json())
            actions_before = _stable(admin.get("/api/v5/actions").json())
        url = first.server.settings.database_url
    finally:
        first.stop()
    second = restart(tmp, url)
    try:
        with httpx.Client(base_url=second.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
            assert admin.get(f"{RULES}/kept").json() == before
            assert _stable(admin.get("/api/v5/connectors").json()) == connectors_before
            assert _stable(admin.get("/api/v5/actions").json()) == actions_before
            assert connectors_before[1]["password"] == "******"
        port = ServerMqtt(second).port
        watcher = Device(port, unique("c"), V5, username="t1/admin", password=ADMIN_PASSWORD)
        try:
            assert watcher.connect() == 0
            assert watcher.subscribe("kept/out") == 1
            assert watcher.publish("keep/1", "again") in (0, 16)
            assert watcher.get("kept/out").payload == b"again"
            wait_until(
                lambda: [r["body"] for r in webhook.requests] == [b"again"], "the webhook after a restart"
            )
        finally:
            watcher.close()
    finally:
        second.stop()
        webhook.stop()


def _stable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What is stored (the status is the running process's)."""
    return [
        {k: v for k, v in item.items() if k not in ("status", "status_reason", "node_status")}
        for item in items
    ]
