"""The rules page in a real browser: the SQL editor's test call, a rule created with a republish action that
a real MQTT message then triggers (its metrics on the page), disabled, deleted."""

from __future__ import annotations

import json

from tests.console.browser import Console
from tests.mqtt_device import Device, ServerMqtt
from tests.support import ADMIN_PASSWORD, unique

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
    console.button(f"Disable rule {rule_id}").click()
    console.wait_text("#rule-table tbody tr", "disabled")
    console.button(f"Delete rule {rule_id}").click()
    console.wait_text("#rules", "No rules yet")
