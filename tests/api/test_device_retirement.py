"""Retiring a device and registering it again (README, Device retirement), against a real `tether serve` with
httpx and paho-mqtt at 5.0 and 3.1.1: `DELETE /inventory/managedObjects/{id}?withDeviceUser=true` deletes the
device user, so its credentials stop working over HTTP and MQTT at once and its live MQTT connection is
closed; accepting a new-device request while the device user exists is refused with 409 saying how to retire
it; a retired (factory-reset) device bootstraps again over REST and over MQTT."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.mqtt_device import BAD_CREDENTIALS, PROTOCOL_IDS, PROTOCOLS, V5, Device, ServerMqtt
from tests.support import BOOTSTRAP_PASSWORD, ServerThread, unique

NDR = "/devicecontrol/newDeviceRequests"
CREDENTIALS = "/devicecontrol/deviceCredentials"
MO = "/inventory/managedObjects"
BOOTSTRAP = ("management/devicebootstrap", BOOTSTRAP_PASSWORD)
ADMINISTRATIVE_ACTION = 0x98


@pytest.fixture(scope="module")
def mqtt(server: ServerThread) -> ServerMqtt:
    broker = ServerMqtt(server)
    broker.lenient_logins()  # old credentials fail on purpose
    return broker


@pytest.fixture
def bootstrap(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=BOOTSTRAP, timeout=30) as client:
        yield client


def request_and_poll(admin: httpx.Client, bootstrap: httpx.Client, serial: str) -> None:
    """The operator's request, and the device's first poll (-> PENDING_ACCEPTANCE)."""
    assert admin.post(NDR, json={"id": serial}).status_code == 201
    assert bootstrap.post(CREDENTIALS, json={"id": serial}).status_code == 404
    assert admin.get(f"{NDR}/{serial}").json()["status"] == "PENDING_ACCEPTANCE"


def register_over_rest(admin: httpx.Client, bootstrap: httpx.Client, serial: str) -> tuple[str, str]:
    """Bootstrap `serial` over REST: its (login, password)."""
    request_and_poll(admin, bootstrap, serial)
    accepted = admin.put(f"{NDR}/{serial}", json={"status": "ACCEPTED"})
    assert accepted.status_code == 200, accepted.text
    issued = bootstrap.post(CREDENTIALS, json={"id": serial})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["username"] == f"device_{serial}"
    return f"{body['tenantId']}/{body['username']}", body["password"]


def create_device(server: ServerThread, login: str, password: str, **fragments: Any) -> str:
    """The device creates its managed object with its own credentials (it owns it)."""
    document = {"name": unique("dev"), "c8y_IsDevice": {}, **fragments}
    response = httpx.post(f"{server.url}{MO}", json=document, auth=(login, password), timeout=30)
    assert response.status_code == 201, response.text
    mo_id: str = response.json()["id"]
    return mo_id


def http_status(server: ServerThread, login: str, password: str) -> int:
    return httpx.get(f"{server.url}/user/currentUser", auth=(login, password), timeout=30).status_code


def retire(admin: httpx.Client, mo_id: str) -> None:
    response = admin.delete(f"{MO}/{mo_id}", params={"withDeviceUser": "true"})
    assert response.status_code == 204, response.text


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_retired_device_is_locked_out_at_once(
    server: ServerThread,
    admin: httpx.Client,
    bootstrap: httpx.Client,
    mqtt: ServerMqtt,
    mqtt_devices: Callable[..., Device],
    protocol: int,
) -> None:
    serial = unique("RET")
    login, password = register_over_rest(admin, bootstrap, serial)
    mo_id = create_device(server, login, password)
    assert http_status(server, login, password) == 200  # verified (and remembered for a while)
    live = mqtt_devices(mqtt.port, serial, protocol, username=login, password=password, session_expiry=3600)
    assert live.connect() == 0
    assert live.subscribe("s/ds") == 1
    again = mqtt_devices(mqtt.port, f"d:{serial}", protocol, username=login, password=password)
    assert again.connect() == 0  # a second connection of the device; from the login cache

    retire(admin, mo_id)

    # Its live connections are closed: MQTT 5 with DISCONNECT 0x98 Administrative action.
    for connection in (live, again):
        code = connection.wait_closed()
        assert code == ADMINISTRATIVE_ACTION if protocol == V5 else code != 0
    # Its credentials no longer work, on either protocol.
    assert http_status(server, login, password) == 401
    assert (
        mqtt_devices(mqtt.port, serial, protocol, username=login, password=password).connect()
        == BAD_CREDENTIALS
    )
    # The device and its user are gone; its persistent session ended with the connection.
    assert admin.get(f"{MO}/{mo_id}").status_code == 404
    tenant, _, username = login.partition("/")
    assert server.call(server.platform.services.tenants.get_user(tenant, username)) is None
    assert mqtt.broker.held_messages(f"$tenant/{tenant}/", serial) == []
    assert not [s for s in mqtt.broker.sessions if s.client_id.endswith(serial)]


def test_accepting_a_device_whose_user_exists_is_refused_until_it_is_retired(
    server: ServerThread, admin: httpx.Client, bootstrap: httpx.Client
) -> None:
    serial = unique("RE")
    login, password = register_over_rest(admin, bootstrap, serial)
    mo_id = create_device(server, login, password)
    # The device was factory-reset and asks again; the operator accepts: refused, and said why.
    request_and_poll(admin, bootstrap, serial)
    refused = admin.put(f"{NDR}/{serial}", json={"status": "ACCEPTED"})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "devicecontrol/Conflict" and "info" in body
    assert f"device_{serial}" in body["message"] and "withDeviceUser=true" in body["message"]
    assert admin.get(f"{NDR}/{serial}").json()["status"] == "PENDING_ACCEPTANCE"
    assert bootstrap.post(CREDENTIALS, json={"id": serial}).status_code == 404  # nothing issued
    assert http_status(server, login, password) == 200  # the old credentials still work until retired

    retire(admin, mo_id)
    accepted = admin.put(f"{NDR}/{serial}", json={"status": "ACCEPTED"})
    assert accepted.status_code == 200, accepted.text
    issued = bootstrap.post(CREDENTIALS, json={"id": serial})
    assert issued.status_code == 201, issued.text
    new_password = issued.json()["password"]
    assert new_password != password
    assert http_status(server, login, new_password) == 200
    assert http_status(server, login, password) == 401
    create_device(server, login, new_password)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
def test_a_retired_device_bootstraps_again_over_mqtt(
    server: ServerThread,
    admin: httpx.Client,
    bootstrap: httpx.Client,
    mqtt: ServerMqtt,
    mqtt_devices: Callable[..., Device],
    protocol: int,
) -> None:
    serial = unique("MQ")
    login, password = register_over_rest(admin, bootstrap, serial)
    mo_id = create_device(server, login, password)
    own = mqtt_devices(mqtt.port, serial, protocol, username=login, password=password)
    assert own.connect() == 0
    retire(admin, mo_id)
    own.wait_closed()

    # Factory reset: the device asks over MQTT as the bootstrap user, with its serial as ClientId (s/ucr).
    assert admin.post(NDR, json={"id": serial}).status_code == 201
    asking = mqtt_devices(
        mqtt.port, serial, protocol, username="management/devicebootstrap", password=BOOTSTRAP_PASSWORD
    )
    assert asking.connect() == 0
    assert asking.subscribe("s/dcr") == 1
    while admin.get(f"{NDR}/{serial}").json()["status"] != "PENDING_ACCEPTANCE":
        assert asking.publish("s/ucr") < 0x80
    assert admin.put(f"{NDR}/{serial}", json={"status": "ACCEPTED"}).status_code == 200
    assert asking.publish("s/ucr") < 0x80
    code, tenant, username, new_password = asking.text("s/dcr").split(",")
    assert (code, f"{tenant}/{username}") == ("70", login)
    asking.close()
    again = mqtt_devices(mqtt.port, serial, protocol, username=login, password=new_password)
    assert again.connect() == 0
    assert again.subscribe("s/ds") == 1
    assert http_status(server, login, new_password) == 200
    assert (
        mqtt_devices(mqtt.port, serial, protocol, username=login, password=password).connect()
        == BAD_CREDENTIALS
    )


def test_only_the_device_user_of_the_device_is_retired(
    server: ServerThread, admin: httpx.Client, bootstrap: httpx.Client
) -> None:
    serial = unique("GW")
    login, password = register_over_rest(admin, bootstrap, serial)
    gateway = create_device(server, login, password)
    child = create_device(server, login, password)
    linked = httpx.post(
        f"{server.url}{MO}/{gateway}/childDevices",
        json={"managedObject": {"id": child}},
        auth=(login, password),
        timeout=30,
    )
    assert linked.status_code == 201, linked.text
    # A child device the gateway created is owned by the gateway's user: deleting it keeps the gateway.
    retire(admin, child)
    assert http_status(server, login, password) == 200
    # Without withDeviceUser the user stays, as before.
    plain = create_device(server, login, password)
    assert admin.delete(f"{MO}/{plain}").status_code == 204
    assert http_status(server, login, password) == 200
    # An object of an administrator: no user is deleted.
    mine = admin.post(MO, json={"name": unique("admin-dev"), "c8y_IsDevice": {}}).json()["id"]
    retire(admin, mine)
    assert admin.get("/user/currentUser").status_code == 200
    # Deleting a user takes an administrator.
    refused = httpx.delete(
        f"{server.url}{MO}/{gateway}", params={"withDeviceUser": "true"}, auth=(login, password), timeout=30
    )
    assert refused.status_code == 403, refused.text
    assert http_status(server, login, password) == 200
    retire(admin, gateway)
    assert http_status(server, login, password) == 401
