"""The rules and connectors pages in a real browser: the SQL editor's test call, a rule created with a
republish action that a real MQTT message then triggers (its metrics on the page), tested as stored,
disabled, deleted; a webhook created on the connectors page, connected to a real receiver, fed by a rule,
its action's metrics shown, deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from tests.console.browser import Console
from tests.management.sink_servers import Webhook
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, ServerThread, unique

SQL = 'SELECT payload.temp AS temp, clientid FROM "t/#" WHERE payload.temp > 30'


def test_a_rule_is_tested_created_triggered_and_deleted(console: Console, mqtt_server: ServerMqtt) -> None:
    console.open("/ui/rules")
    console.wait_text("#rules", "No rules yet")
    assert console.find("textarea[name=sql]").get_attribute("value") == SQL
    console.button("Test SQL").click()
    result = console.wait_text("#rule-result", '"temp": 35')
    assert json.loads(result.text)["temp"] == 35
    console.fill("textarea[name=test-payload]", '{"temp": 10}')
    console.button("Test SQL").click()
    console.wait_text("#rule-output", "No output")
    console.fill("textarea[name=sql]", "SELEKT nothing")
    console.button("Test SQL").click()
    console.wait_text("#rule-output .error", "line 1")  # the parser's words, with where
    console.fill("textarea[name=sql]", SQL)
    rule_id = unique("hot")
    console.fill("input[name=rule-id]", rule_id)
    console.fill("input[name=republish-topic]", "alerts/hot")
    console.button("Create rule").click()
    console.wait_text("#rule-table", rule_id)
    listener = Device(mqtt_server.port, unique("listen"), username="t1/admin", password=ADMIN_PASSWORD)
    sender = Device(mqtt_server.port, unique("send"), username="t1/admin", password=ADMIN_PASSWORD)
    try:
        assert listener.connect() == 0 and sender.connect() == 0
        assert listener.subscribe("alerts/hot") == 1
        assert sender.publish("t/1", json.dumps({"temp": 41})) == 0
        assert json.loads(listener.text("alerts/hot"))["temp"] == 41
    finally:
        listener.close()
        sender.close()
    console.open("/ui/rules")
    row = console.wait_text("#rule-table tbody tr", rule_id)
    console.until(lambda: row.find_elements("css selector", "td")[3].text == "1", "matched once")
    console.screenshot("rules")
    console.fill("textarea[name=test-payload]", '{"temp": 50}')
    console.button(f"Test rule {rule_id} on the sample").click()  # POST /rules/{id}/test
    console.wait_text("#rule-output", f"Rule {rule_id} passes")
    assert json.loads(console.find("#rule-result").text)["temp"] == 50
    console.button(f"Disable rule {rule_id}").click()
    console.wait_text("#rule-table tbody tr", "disabled")
    console.button(f"Delete rule {rule_id}").click()
    console.wait_text("#rules", "No rules yet")


@pytest.fixture
def receiver() -> Iterator[Webhook]:
    hook = Webhook()
    hook.start()
    yield hook
    hook.stop()


def test_a_webhook_is_created_fed_and_deleted(
    console: Console, mqtt_server: ServerMqtt, server: ServerThread, receiver: Webhook
) -> None:
    console.open("/ui/connectors")
    console.wait_text("#connectors", "No connectors yet")
    console.fill("input[name=connector-name]", "hook")
    console.fill("input[name=connector-url]", receiver.url)
    console.fill("input[name=action-path]", "/in/${clientid}")
    console.button("Create webhook").click()
    console.wait_text("#connector-table tbody tr", "http:hook")
    console.until(lambda: "connected" in console.find("#connector-table tbody tr").text, "connected")
    console.wait_text("#action-table tbody tr", "http:hook")
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
        rule = {
            "id": "to_hook",
            "sql": 'SELECT payload.v AS v, clientid FROM "hook/#"',
            "actions": ["http:hook"],
        }
        assert admin.post("/api/v5/rules", json=rule).status_code == 201
        sender = Device(mqtt_server.port, "hooked", username="t1/admin", password=ADMIN_PASSWORD)
        try:
            assert sender.connect() == 0
            assert sender.publish("hook/1", json.dumps({"v": 7})) in (0, 16)
        finally:
            sender.close()
        console.until(
            lambda: receiver.bodies("/in/hooked") == [{"v": 7, "clientid": "hooked"}], "the webhook request"
        )
        console.until(
            lambda: (
                (console.open("/ui/connectors"), console.wait_text("#action-table tbody tr", "to_hook"))
                and console.find("#action-table tbody tr").find_elements("css selector", "td")[4].text == "1"
            ),
            "one success on the page",
        )
        console.screenshot("connectors")
        assert admin.delete("/api/v5/rules/to_hook").status_code == 204
    console.open("/ui/connectors")
    console.button("Delete connector http:hook").click()
    console.wait_text("#connectors", "No connectors yet")
    console.wait_text("#actions", "No actions yet")


def test_the_nodes_page_lists_this_node_and_its_connections(
    console: Console, mqtt_server: ServerMqtt
) -> None:
    """Without a cluster the server is the one node (docs/cluster.md), with its listeners and connections."""
    console.open("/ui/nodes")
    row = console.wait_text("#node-table tbody tr", "this node")
    assert "mqtt: " in row.text and "http: " in row.text
    assert row.find_element("css selector", "td.connections").text == "0"
    client = Device(mqtt_server.port, unique("node"), username="t1/admin", password=ADMIN_PASSWORD)
    try:
        assert client.connect() == 0
        console.open("/ui/nodes")
        console.until(
            lambda: console.find("#node-table td.connections").text == "1", "the connection counted"
        )
    finally:
        client.close()
