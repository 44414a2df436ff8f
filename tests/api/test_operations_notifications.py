"""Steps 6-7 of Cumulocity's REST device integration (c8y-docs `device-integration-rest`) end to end on the
real server: an agent subscribes to /devicecontrol/notifications
channel /<agentId> and receives the operations created for its child devices, as Cumulocity JSON."""

from __future__ import annotations

from typing import Any

import httpx
from tests.support import ServerThread

from tether.tenants.models import Role

PATH = "/devicecontrol/notifications"


def bayeux(client: httpx.Client, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(PATH, json=list(messages))
    assert response.status_code == 200, response.text
    replies: list[dict[str, Any]] = response.json()
    return replies


def test_agent_receives_operations_of_its_children(admin: httpx.Client, server: ServerThread) -> None:
    server.call(
        server.platform.services.tenants.create_user("t1", "device_agent77", "agent-secret", {Role.DEVICE})
    )
    with httpx.Client(base_url=server.url, auth=("t1/device_agent77", "agent-secret"), timeout=120) as agent:
        gateway = agent.post(
            "/inventory/managedObjects",
            json={"name": "gw", "c8y_IsDevice": {}, "com_cumulocity_model_Agent": {}},
        ).json()["id"]
        child = agent.post("/inventory/managedObjects", json={"name": "child", "c8y_IsDevice": {}}).json()[
            "id"
        ]
        linked = agent.post(
            f"/inventory/managedObjects/{gateway}/childDevices", json={"managedObject": {"id": child}}
        )
        assert linked.status_code == 201

        [shake] = bayeux(
            agent,
            {
                "id": "1",
                "channel": "/meta/handshake",
                "version": "1.0",
                "supportedConnectionTypes": ["long-polling"],
            },
        )
        assert shake["successful"] is True
        client_id = shake["clientId"]
        [subscribed] = bayeux(
            agent,
            {"id": "2", "channel": "/meta/subscribe", "subscription": f"/{gateway}", "clientId": client_id},
        )
        assert subscribed["successful"] is True

        # Step 7: an operator queues an operation for the child; it is routed to the gateway's channel.
        created = admin.post(
            "/devicecontrol/operations",
            json={
                "deviceId": child,
                "description": "Configuration update",
                "c8y_Configuration": {"config": "a=1"},
            },
        ).json()
        delivered: list[dict[str, Any]] = []
        for attempt in range(3):  # a connect may come back empty before the queued message (at most once)
            replies = bayeux(
                agent,
                {
                    "id": f"c{attempt}",
                    "channel": "/meta/connect",
                    "connectionType": "long-polling",
                    "clientId": client_id,
                },
            )
            delivered = [m for m in replies if m.get("channel") == f"/{gateway}"]
            if delivered:
                break
        assert [m["data"] for m in delivered] == [created]

        # The agent executes it and reports back; step 6 finds nothing left EXECUTING.
        url = f"/devicecontrol/operations/{created['id']}"
        assert agent.put(url, json={"status": "EXECUTING"}).status_code == 200
        running = agent.get("/devicecontrol/operations", params={"agentId": gateway, "status": "EXECUTING"})
        assert [op["id"] for op in running.json()["operations"]] == [created["id"]]
        assert agent.put(url, json={"status": "SUCCESSFUL"}).status_code == 200
        after = agent.get("/devicecontrol/operations", params={"agentId": gateway, "status": "EXECUTING"})
        assert after.json()["operations"] == []
