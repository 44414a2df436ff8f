"""Identity and ClientIds (docs/security.md): identity comes from the credential, never from the ClientId
alone. For every credential kind, at 5.0 and 3.1.1, device A can take over neither device B's connection, nor
its session, nor its topics; a generic credential never gets a device's namespaces; administrators keep their
explicit rights."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.mqtt_device import (
    CLIENT_ID_NOT_VALID,
    NOT_AUTHORIZED,
    PROTOCOL_IDS,
    PROTOCOLS,
    V5,
    ServerMqtt,
    unique,
)
from tests.support import ADMIN_PASSWORD
from tests.xyte.helpers import create_model, register
from tests.xyte.mqtt_support import XyteDevice

protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
USERS = "/api/v5/authentication/password_based:built_in_database/users"
RULES = "/api/v5/authorization/sources/built_in_database/rules"


def refused(protocol: int) -> int:
    return CLIENT_ID_NOT_VALID  # 3.1.1: return code 2 identifier rejected, which paho reports as 0x85


def denied(protocol: int) -> int:
    return NOT_AUTHORIZED if protocol == V5 else 0x80


def device_id(admin: httpx.Client, serial: str) -> str:
    response = admin.get(f"/identity/externalIds/c8y_Serial/{serial}")
    assert response.status_code == 200, response.text
    found: str = response.json()["managedObject"]["id"]
    return found


def operate(admin: httpx.Client, mo_id: str) -> None:
    response = admin.post("/devicecontrol/operations", json={"deviceId": mo_id, "c8y_Restart": {}})
    assert response.status_code == 201, response.text


@pytest.fixture
def victim(mqtt_server: ServerMqtt, mqtt_devices, accounts, admin: httpx.Client):
    """Device B online with a persistent session, subscribed to its operations (s/ds)."""
    serial, login, password = accounts.device()
    device = mqtt_devices(mqtt_server.port, serial, V5, username=login, password=password)
    device.paho.connect_properties = None
    assert device.connect() == 0
    assert device.subscribe("s/ds") == 1
    assert device.publish("s/us", b"100") == 0  # creates its managed object
    return serial, device, device_id(admin, serial)


def still_b(admin: httpx.Client, victim) -> None:
    """B is still connected and still alone on its topics: its next operation reaches it."""
    serial, device, mo_id = victim
    operate(admin, mo_id)
    assert device.text("s/ds") == f"510,{serial}"


@protocols
def test_device_user_cannot_use_another_devices_client_id(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, admin: httpx.Client, victim, protocol: int
) -> None:
    serial_b = victim[0]
    serial_a, login_a, password_a = accounts.device()
    for client_id in (serial_b, f"d:{serial_b}", f"d:{serial_b}:tpl", "some-other-id", f"{serial_a}x"):
        intruder = mqtt_devices(mqtt_server.port, client_id, protocol, username=login_a, password=password_a)
        assert intruder.connect() == refused(protocol), client_id
    still_b(admin, victim)
    # Its own ClientIds are fine.
    for client_id in (serial_a, f"d:{serial_a}", f"d:{serial_a}:tpl"):
        own = mqtt_devices(mqtt_server.port, client_id, protocol, username=login_a, password=password_a)
        assert own.connect() == 0, client_id
        own.close()


@protocols
def test_certificate_binds_its_common_name(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, victim, tmp_path: Path, protocol: int
) -> None:
    ca = make_ca(unique("Identity CA "))
    body = {
        "name": unique("ca"),
        "certInPemFormat": ca.pem,
        "status": "ENABLED",
        "autoRegistrationEnabled": True,
    }
    assert admin.post("/tenant/tenants/t1/trusted-certificates", json=body).status_code == 201
    tls = mqtt_server.client_tls(make_leaf(ca, unique("CERT")), tmp_path)
    intruder = mqtt_devices(mqtt_server.tls_port, victim[0], protocol, tls=tls)
    assert intruder.connect() == refused(protocol)
    still_b(admin, victim)


def test_xyte_device_uses_only_its_id(
    mqtt_server: ServerMqtt, mqtt_devices, server, admin: httpx.Client, victim
) -> None:
    model = create_model(admin)
    device_a = register(server.url, model)
    device_b = register(server.url, model)
    made = []
    for client_id in (device_b["id"], victim[0], unique("x")):
        intruder = XyteDevice(mqtt_server.port, device_a, client_id=client_id)
        made.append(intruder)
        assert intruder.connect() == CLIENT_ID_NOT_VALID, client_id
    own = XyteDevice(mqtt_server.port, device_a)
    made.append(own)
    assert own.connect() == 0
    assert own.subscribe(f"v1/device/{device_b['id']}/command") == NOT_AUTHORIZED
    for device in made:
        device.close()
    still_b(admin, victim)


@protocols
def test_generic_credential_gets_no_device_namespace(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, victim, protocol: int
) -> None:
    serial_b, _, mo_b = victim
    user_id = unique("generic")
    assert admin.post(USERS, json={"user_id": user_id, "password": "generic-pw"}).status_code == 201
    # A device's ClientId: refused, B keeps its connection and its session.
    for client_id in (serial_b, f"d:{serial_b}"):
        intruder = mqtt_devices(
            mqtt_server.port, client_id, protocol, username=user_id, password="generic-pw"
        )
        assert intruder.connect() == refused(protocol), client_id
    still_b(admin, victim)
    # Its own ClientId: no device namespace, not even with a rule that opens SmartREST's topics to it.
    rules = [{"topic": "s/#", "permission": "allow", "action": "all"}]
    assert admin.post(f"{RULES}/users", json=[{"username": user_id, "rules": rules}]).status_code == 204
    try:
        generic = mqtt_devices(
            mqtt_server.port, unique("gen"), protocol, username=user_id, password="generic-pw"
        )
        assert generic.connect() == 0
        for topic_filter in (f"$emqx/things/{serial_b}/#", "$emqx/things/+/shadow", "v1/device/+/command"):
            assert generic.subscribe(topic_filter) == denied(protocol), topic_filter
        assert generic.subscribe("s/ds") == 1  # the rule: a plain topic of the tenant, nobody's operations
        operate(admin, mo_b)
        assert victim[1].text("s/ds") == f"510,{serial_b}"
        assert generic.none_within(0.3)
        # Its s/us is no SmartREST device: nothing is created for its ClientId.
        assert generic.publish("s/us", b"100") < 0x80
        assert admin.get(f"/identity/externalIds/c8y_Serial/{generic.client_id}").status_code == 404
    finally:
        assert admin.delete(f"{RULES}/users/{user_id}").status_code == 204


@protocols
def test_administrators_may_act_as_a_device(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, victim, protocol: int
) -> None:
    """An explicit right of operators: an administrator may use a device's ClientId (and so takes its
    connection over, as the MQTT spec says for any second connection of a ClientId)."""
    serial_b = victim[0]
    operator = mqtt_devices(
        mqtt_server.port, serial_b, protocol, username="t1/admin", password=ADMIN_PASSWORD
    )
    assert operator.connect() == 0
    assert operator.publish("s/us", b"400,c8y_Note,replayed by the operator") < 0x80
    assert operator.subscribe("#") == 1
