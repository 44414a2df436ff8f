"""The pure parts of sinks: SQL templates as bound parameters, webhook requests, Redis commands, MQTT
messages (tether.rules.sink_templates), and the checks of connectors and actions (tether.rules.connectors)."""

from __future__ import annotations

import json

import pytest

from tether.core.errors import BadRequest
from tether.rules import RuleSyntaxError
from tether.rules.connectors import SECRET, check_action, check_connector, duration_ms, masked, size_bytes
from tether.rules.sink_templates import CommandTemplate, HttpTemplate, MqttTemplate, SqlTemplate

OUTPUT = {"clientid": "c1", "event": "client.connected", "timestamp": 1767225600000, "n": 2, "m": {"a": 1}}
RECIPE = (
    "INSERT INTO emqx_client_events(clientid, event, created_at) "
    "VALUES (${clientid}, ${event}, TO_TIMESTAMP((${timestamp} :: bigint)/1000))"
)


def test_sql_placeholders_become_parameters() -> None:
    pg = SqlTemplate.parse(RECIPE, "numeric")
    assert pg.text == (
        "INSERT INTO emqx_client_events(clientid, event, created_at) "
        "VALUES ($1, $2, TO_TIMESTAMP(($3 :: bigint)/1000))"
    )
    assert pg.values(OUTPUT) == ("c1", "client.connected", 1767225600000)
    my = SqlTemplate.parse("INSERT INTO t(a, b, c) VALUES ('${clientid}', ${m}, '50%')", "format")
    assert my.text == "INSERT INTO t(a, b, c) VALUES (%s, %s, '50%%')"
    assert my.values(OUTPUT) == ("c1", {"a": 1})
    assert SqlTemplate.parse("SELECT 'it''s', ${n}", "numeric").text == "SELECT 'it''s', $1"
    assert SqlTemplate.parse("SELECT ${missing}", "numeric").values(OUTPUT) == (None,)


def test_a_placeholder_inside_a_literal_is_refused() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        SqlTemplate.parse("INSERT INTO t VALUES\n('id-${clientid}')", "numeric")
    assert (caught.value.line, caught.value.column) == (2, 2)


def test_http_redis_mqtt_templates() -> None:
    http = HttpTemplate.parse("post", "/hook/${clientid}", {"x-n": "${n}"}, "")
    path, headers, body = http.render(OUTPUT)
    assert (http.method, path, headers) == ("POST", "/hook/c1", [("x-n", "2")])
    assert json.loads(body) == OUTPUT  # empty body: the output as JSON
    assert HttpTemplate.parse("put", "", {}, "${m}").render(OUTPUT)[2] == b'{"a":1}'
    assert CommandTemplate.parse(["HSET", "c:${clientid}", "n", "${n}", "${nothing}"]).render(OUTPUT) == [
        "HSET",
        "c:c1",
        "n",
        "2",
        "",
    ]
    mqtt = MqttTemplate.parse({"topic": "up/${clientid}", "qos": 1, "retain": False, "payload": "${event}"})
    assert mqtt.render(OUTPUT) == ("up/c1", b"client.connected")


def test_connector_checks_defaults_and_secrets() -> None:
    config = check_connector("pgsql", {"server": "db:5432", "database": "d", "password": "pw"})
    assert config["pool_size"] == 8 and config["username"] == "" and config["password"] == "pw"
    assert masked("pgsql", config)["password"] == SECRET and config["password"] == "pw"
    kept = check_connector("pgsql", {**masked("pgsql", config), "username": "u"}, config)
    assert kept["password"] == "pw" and kept["username"] == "u"
    for bad in ({"server": "db:0", "database": "d"}, {"database": "d"}, {"server": "db", "database": 1}):
        with pytest.raises(BadRequest):
            check_connector("pgsql", bad)


def test_action_checks() -> None:
    params, opts = check_action("http", {"path": "/x"}, {"batch_size": 5})
    assert params["method"] == "post" and params["max_retries"] == 2 and opts["batch_size"] == 5
    assert opts["request_ttl"] == "infinity" and opts["max_buffer_bytes"] == "256MB"
    with pytest.raises(BadRequest):
        check_action("mqtt", {"remote": {"topic": "t", "qos": 3}}, {})
    with pytest.raises(BadRequest):
        check_action("redis", {"command_template": "GET k"}, {})


def test_durations_and_sizes() -> None:
    assert duration_ms("15s", "x", "r") == 15_000 and duration_ms("500ms", "x", "r") == 500
    assert duration_ms("infinity", "x", "r") is None and duration_ms(250, "x", "r") == 250
    assert size_bytes("256MB", "x", "r") == 256 * 1024**2 and size_bytes("1kb", "x", "r") == 1024
    with pytest.raises(BadRequest):
        duration_ms("soon", "x", "r")
    with pytest.raises(BadRequest):
        size_bytes("0MB", "x", "r")
