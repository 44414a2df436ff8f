"""Adapter logic without a broker: SmartREST template collections, MQTT client ids, the publish/subscribe
policy and the Xyte command format (their wire behaviour is tested end to end in tests/adapters and
tests/xyte)."""

from __future__ import annotations

import pytest

from tether.adapters.client_ids import bound_serial, parse_client_id, uses_serial
from tether.adapters.policy import Policy
from tether.adapters.smartrest.csv import parse_rows_lenient
from tether.adapters.smartrest.errors import SmartRestError
from tether.adapters.smartrest.template_model import Collection, find, parse_collection, respond, set_path
from tether.adapters.xyte_format import command, command_update, xyte_status
from tether.core.errors import InvalidInput
from tether.credentials.models import AclRule, Action, Permission
from tether.credentials.rules import compile_rules
from tether.operations.models import Operation, OperationStatus
from tether.registration.xyte_models import XyteDevice
from tether.tenants.models import Principal, Role

# -- SmartREST 2.0 template collections ------------------------------------------------------------

TEMPLATES = """\
10,100,POST,MEASUREMENT,false,c8y_Temp,,c8y_Temp.T.value,NUMBER,,c8y_Temp.T.unit,,C
10,101,POST,ALARM,,c8y_Fault,broken,ACTIVE,MAJOR,
10,102,GET,INVENTORY,,,
11,800,$.c8y_Restart,,$.id
11,801,,c8y_Command,$.c8y_Command.text,$.id
"""


def test_a_collection_parses_and_survives_its_stored_document() -> None:
    collection = parse_collection(parse_rows_lenient(TEMPLATES))
    measurement = collection.requests["100"]
    assert (measurement.method, measurement.api, measurement.response) == ("POST", "MEASUREMENT", False)
    assert measurement.mandatory == ["c8y_Temp", ""]
    assert [(c.path, c.type, c.value) for c in measurement.customs] == [
        ("c8y_Temp.T.value", "NUMBER", ""),
        ("c8y_Temp.T.unit", "STRING", "C"),
    ]
    assert collection.requests["101"].mandatory == ["c8y_Fault", "broken", "ACTIVE", "MAJOR", ""]
    assert [r.id for r in collection.responses] == ["800", "801"]
    assert len(collection) == 5
    restored = Collection.from_document(7, collection.to_document())
    assert restored.id == 7
    assert restored.requests == collection.requests and restored.responses == collection.responses


@pytest.mark.parametrize(
    "text",
    [
        "10,100,DELETE,MEASUREMENT",  # unsupported method and API
        "10,100,POST,MEASUREMENT,maybe,t,",  # response must be true or false
        "10,100,GET,INVENTORY,,,,c8y_X,STRING,",  # GET takes no custom values
        "10,100,POST,MEASUREMENT,,t,,,STRING,",  # a custom value without a path
        "10,100,POST,MEASUREMENT,,t,,p,WHATEVER,",  # unknown type
        "10,100,POST,ALARM,,t,x,ACTIVE,HUGE,",  # unknown severity
        "11,800,,,",  # a response without a pattern
        "12,900,x",  # neither a request nor a response
        "10,,POST,MEASUREMENT",  # no message id
        "10,100,POST,MEASUREMENT,,t,\n11,100,,,$.id",  # one message id twice
        "",  # no templates
    ],
)
def test_bad_collections_are_refused(text: str) -> None:
    with pytest.raises(SmartRestError):
        parse_collection(parse_rows_lenient(text))


def test_json_paths_and_responses() -> None:
    document = {"id": "5", "list": [{"a": 1}, {"a": 2}], "c8y_Command": {"text": "ls -l, /"}}
    assert find(document, "$.list[*].a") == [1, 2]
    assert find(document, "list[1].a") == [2]
    assert find(document, "list[9].a") == [] and find(document, "missing.x") == []
    target: dict[str, object] = {"c8y_Temp": 1}
    set_path(target, "c8y_Temp.T.value", 21.5)  # a non-object on the way is replaced
    assert target == {"c8y_Temp": {"T": {"value": 21.5}}}

    responses = parse_collection(parse_rows_lenient(TEMPLATES)).responses
    # 800 has no condition: it always answers, an empty field where its base is missing
    assert respond(responses, document, None) == ["800,", '801,"ls -l, /",5']
    assert respond(responses, {"id": 3, "c8y_Restart": {}}, "SN-1") == ["800,SN-1,"]


# -- MQTT client ids -------------------------------------------------------------------------------


def test_client_ids_name_a_device() -> None:
    assert parse_client_id("SN-1") == parse_client_id("d:SN-1")
    assert parse_client_id("d:SN-1:tpl:v2").template_id == "tpl:v2"
    assert parse_client_id("").serial is None and parse_client_id("d::tpl").serial is None
    assert uses_serial("d:SN-1:tpl", "SN-1") and not uses_serial("d:SN-2", "SN-1")
    assert bound_serial(Principal("t1", "device_SN-1", frozenset({Role.DEVICE}))) == "SN-1"
    assert bound_serial(Principal("t1", "sensor", frozenset({Role.DEVICE}))) == "sensor"
    assert bound_serial(Principal("t1", "admin", frozenset({Role.ADMIN, Role.DEVICE}))) is None
    assert bound_serial(Principal("management", "devicebootstrap", frozenset({Role.BOOTSTRAP}))) is None


# -- the publish/subscribe policy ------------------------------------------------------------------


def test_a_device_owns_its_namespaces_and_no_other_clients() -> None:
    policy = Policy.for_device((), ("SN-1",), xyte_id="x-1")
    for topic in ("s/us", "t/us/100", "$emqx/things/SN-1/up", "v1/device/x-1/telemetry", "v1/device/x-1"):
        assert policy.may_publish(topic), topic
    for topic in ("$emqx/things/SN-2/up", "v1/device/x-2/telemetry", "$client/other/s/us", "misc/topic"):
        assert not policy.may_publish(topic), topic
    assert policy.may_subscribe("$emqx/commands/things/SN-1/#")
    assert policy.may_subscribe("$share/g/s/ds")
    assert not policy.may_subscribe("$emqx/commands/things/#")  # would cover other devices
    assert not policy.may_subscribe("$client/#")
    wildcard = Policy.for_device((), ("+",))
    assert wildcard.owned == ()  # a name with a wildcard owns nothing


def test_operator_rules_come_first_but_never_open_private_areas() -> None:
    rules = compile_rules(
        [
            AclRule("s/us", Permission.DENY, Action.PUBLISH),
            AclRule("shared/#", Permission.ALLOW, Action.ALL),
            AclRule("#", Permission.ALLOW, Action.SUBSCRIBE),
        ],
        "device_SN-1",
        "SN-1",
    )
    policy = Policy.for_device(rules, ("SN-1",))
    assert not policy.may_publish("s/us")  # the rule overrides the device's own namespace
    assert policy.may_publish("shared/x") and policy.may_subscribe("shared/#")
    assert not policy.may_subscribe("$client/other/#")


def test_the_kept_publish_decision_is_the_rules_decision() -> None:
    """A policy with rules keeps its last publish decision: whatever the order of topics, QoS and RETAIN
    flags, each answer is the one a policy that never decided before gives."""
    acl = [
        AclRule("limited/#", Permission.ALLOW, Action.PUBLISH, qos=(0, 1), retain=False),
        AclRule("limited/#", Permission.DENY, Action.ALL),
        AclRule("s/e", Permission.DENY, Action.PUBLISH),
        AclRule("factory/${clientid}/#", Permission.ALLOW, Action.PUBLISH),
    ]
    rules = compile_rules(acl, "device_SN-1", "SN-1")
    policy = Policy.for_device(rules, ("SN-1",))
    topics = ["limited/a", "s/us", "s/e", "factory/SN-1/x", "factory/SN-2/x", "$client/x/s/us", "other/x"]
    asked = [(t, q, r) for t in topics for q in (0, 1, 2, None) for r in (False, True, None)]
    for topic, qos, retain in [*asked, *reversed(asked), *asked[::3], *asked[::-5]]:
        fresh = Policy.for_device(rules, ("SN-1",))
        assert policy.may_publish(topic, qos, retain) == fresh.may_publish(topic, qos, retain)
        assert policy.may_publish(topic, qos, retain) == fresh.may_publish(topic, qos, retain)
    assert policy.may_publish("limited/a", 1, False) and not policy.may_publish("limited/a", 1, True)
    assert not policy.may_publish("limited/a", 2, False)
    # The kept decision is not part of the policy's value.
    assert policy == Policy.for_device(rules, ("SN-1",)) and hash(policy) == hash(
        Policy.for_device(rules, ("SN-1",))
    )


def test_superusers_and_the_bootstrap_user() -> None:
    assert Policy(superuser=True).may_publish("$client/x") and Policy(superuser=True).may_subscribe("#")
    bootstrap = Policy(bootstrap=True)
    assert bootstrap.may_publish("s/ucr") and bootstrap.may_subscribe("s/dcr")
    assert not bootstrap.may_publish("s/us") and not bootstrap.may_subscribe("s/ds")


# -- the Xyte command format -----------------------------------------------------------------------

DEVICE = XyteDevice("x-1", "t1", "m-1", 4, "SN-1", None, None, "hash", 0)


def _op(fragments: dict[str, object], status: OperationStatus = OperationStatus.PENDING) -> Operation:
    return Operation(9, "t1", 4, None, status, 0, 0, fragments=fragments)


def test_operations_as_xyte_commands() -> None:
    explicit = command(DEVICE, _op({"xyte_Command": {"name": "reboot", "parameters": {"delay": 5}}}))
    assert explicit == {
        "id": "9",
        "device_id": "x-1",
        "status": xyte_status(OperationStatus.PENDING),
        "name": "reboot",
        "parameters": {"delay": 5},
    }
    implicit = command(DEVICE, _op({"description": "d", "c8y_Restart": 3}, OperationStatus.EXECUTING))
    assert (implicit["name"], implicit["parameters"]) == ("c8y_Restart", {"value": 3})
    assert implicit["status"] == xyte_status(OperationStatus.EXECUTING) != explicit["status"]


def test_command_updates_are_checked() -> None:
    update = command_update({"id": "9", "status": "done", "message": "ok"})
    assert (update.op_id, update.status, update.message) == (9, OperationStatus.SUCCESSFUL, "ok")
    assert command_update({"id": 9, "status": "error"}).status is OperationStatus.FAILED
    assert command_update({"id": 9, "status": "in_progress"}).status is OperationStatus.EXECUTING
    bad: object
    for bad in (
        [],
        {"id": "x", "status": "done"},
        {"id": 9, "status": "pending"},
        {"id": 9, "status": "done", "message": 5},
        {"id": 9, "status": "done", "message": "a\x00b"},
    ):
        with pytest.raises(InvalidInput):
            command_update(bad)


# -- the client status registry's user name index (GET /api/v5/clients?username=) ---------------------


def test_presence_username_index_follows_reconnects_and_forgetting() -> None:
    from tether.adapters.presence import Presence
    from tether.broker import ClientInfo

    presence = Presence(max_offline=1)
    clients: dict[str, ClientInfo] = {}

    def connect(client_id: str, username: str | None, peer: str) -> None:
        clients[client_id] = ClientInfo(client_id, username, 5, "mqtt", peer)
        presence.connected(clients[client_id])

    connect("a", "t1/u1", "p1")
    first_a = clients["a"]
    connect("b", "t1/u1", "p2")
    connect("c", None, "p3")
    assert presence.client_ids_of("", "t1/u1") == {"a", "b"}
    connect("a", "t1/u2", "p4")  # the same client id, now another user
    assert presence.client_ids_of("", "t1/u1") == {"b"}
    assert presence.client_ids_of("", "t1/u2") == {"a"}
    assert presence.client_ids_of("other/", "t1/u2") == frozenset()
    presence.disconnected(first_a, 0)  # the connection taken over: the new one's record stays
    status = presence.get("", "a")
    assert status is not None and status.connected and status.peer == "p4"
    presence.disconnected(clients["b"], 0)  # offline, still listed
    assert presence.client_ids_of("", "t1/u1") == {"b"}
    status = presence.get("", "b")
    assert status is not None and not status.connected and status.reason_name == "normal"
    presence.disconnected(clients["a"], 0)  # past max_offline: the oldest offline records go
    assert presence.client_ids_of("", "t1/u1") == frozenset()
