"""Device login with a TLS client certificate (docs/protocols.md section 1), with paho-mqtt at 5.0 and 3.1.1:
a tenant uploads its CA (trusted-certificates API); a device presenting a certificate that CA issued connects
on the TLS listener without a password, as `device_<common name>`."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from tests.adapters.certs import make_ca, make_leaf
from tests.mqtt_device import (
    BAD_CREDENTIALS,
    CLIENT_ID_NOT_VALID,
    NOT_AUTHORIZED,
    PROTOCOL_IDS,
    PROTOCOLS,
    V5,
    ServerMqtt,
    unique,
)
from tests.support import ADMIN_PASSWORD

protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)
CERTS = "/tenant/tenants/t1/trusted-certificates"


def upload(admin: httpx.Client, ca, *, auto: bool = True, status: str = "ENABLED") -> str:
    body = {
        "name": unique("ca"),
        "certInPemFormat": ca.pem,
        "status": status,
        "autoRegistrationEnabled": auto,
    }
    response = admin.post(CERTS, json=body)
    assert response.status_code == 201, response.text
    return response.json()["fingerprint"]


@pytest.fixture(scope="module")
def trusted_ca(server, mqtt_server: ServerMqtt):
    """A CA of tenant t1 with auto-registration, uploaded once per server."""
    ca = make_ca(unique("Device CA "))
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD)) as admin:
        upload(admin, ca)
    return ca


@protocols
def test_certificate_login_registers_the_device(
    mqtt_server: ServerMqtt, mqtt_devices, server, trusted_ca, tmp_path: Path, protocol: int
) -> None:
    serial = unique("CERT")
    tls = mqtt_server.client_tls(make_leaf(trusted_ca, serial), tmp_path)
    device = mqtt_devices(mqtt_server.tls_port, serial, protocol, tls=tls)
    assert device.connect() == 0
    assert device.subscribe("s/ds") == 1
    assert device.subscribe("#") == (NOT_AUTHORIZED if protocol == V5 else 0x80)  # a device, not an admin
    user = server.call(server.platform.services.tenants.get_user("t1", f"device_{serial}"))
    assert user is not None and [r.value for r in user.roles] == ["device"]
    device.close()
    # The client id forms name the same device; the certificate's CN must be the device id.
    again = mqtt_devices(
        mqtt_server.tls_port,
        f"d:{serial}:tpl",
        protocol,
        tls=mqtt_server.client_tls(make_leaf(trusted_ca, serial), tmp_path),
    )
    assert again.connect() == 0
    other = mqtt_devices(
        mqtt_server.tls_port,
        unique("OTHER"),
        protocol,
        tls=mqtt_server.client_tls(make_leaf(trusted_ca, serial), tmp_path),
    )
    assert other.connect() == CLIENT_ID_NOT_VALID


@protocols
def test_without_auto_registration_the_device_must_exist(
    mqtt_server: ServerMqtt,
    mqtt_devices,
    accounts,
    admin: httpx.Client,
    tmp_path: Path,
    protocol: int,
) -> None:
    ca = make_ca(unique("Manual CA "))
    upload(admin, ca, auto=False)
    unknown = unique("CERT")
    device = mqtt_devices(
        mqtt_server.tls_port,
        unknown,
        protocol,
        tls=mqtt_server.client_tls(make_leaf(ca, unknown), tmp_path),
    )
    assert device.connect() == NOT_AUTHORIZED
    serial, _, _ = accounts.device()  # registered (e.g. through the bootstrap flow)
    device = mqtt_devices(
        mqtt_server.tls_port,
        serial,
        protocol,
        tls=mqtt_server.client_tls(make_leaf(ca, serial), tmp_path),
    )
    assert device.connect() == 0


@protocols
def test_disabled_or_deleted_ca_is_refused(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, tmp_path: Path, protocol: int
) -> None:
    ca = make_ca(unique("Revoked CA "))
    fingerprint = upload(admin, ca)
    serial = unique("CERT")
    leaf = make_leaf(ca, serial)
    assert (
        mqtt_devices(
            mqtt_server.tls_port, serial, protocol, tls=mqtt_server.client_tls(leaf, tmp_path)
        ).connect()
        == 0
    )
    assert admin.put(f"{CERTS}/{fingerprint}", json={"status": "DISABLED"}).status_code == 200
    assert (
        mqtt_devices(
            mqtt_server.tls_port, serial, protocol, tls=mqtt_server.client_tls(leaf, tmp_path)
        ).connect()
        == NOT_AUTHORIZED
    )
    assert admin.put(f"{CERTS}/{fingerprint}", json={"status": "ENABLED"}).status_code == 200
    assert (
        mqtt_devices(
            mqtt_server.tls_port, serial, protocol, tls=mqtt_server.client_tls(leaf, tmp_path)
        ).connect()
        == 0
    )
    assert admin.delete(f"{CERTS}/{fingerprint}").status_code == 204
    assert (
        mqtt_devices(
            mqtt_server.tls_port, serial, protocol, tls=mqtt_server.client_tls(leaf, tmp_path)
        ).connect()
        == NOT_AUTHORIZED
    )


def test_certificate_of_an_unknown_ca_fails_the_handshake(
    mqtt_server: ServerMqtt, mqtt_devices, tmp_path: Path
) -> None:
    stranger = make_ca("Nobody's CA")
    device = mqtt_devices(
        mqtt_server.tls_port,
        "STRANGER",
        tls=mqtt_server.client_tls(make_leaf(stranger, "STRANGER"), tmp_path),
    )
    # TLS 1.3: the client may finish its handshake before the server checks its certificate; either way no
    # MQTT connection is made.
    try:
        code = device.connect()
    except (ssl.SSLError, OSError):
        code = None
    assert code is None


@protocols
def test_password_login_on_the_tls_listener(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    serial, login, password = accounts.device()
    device = mqtt_devices(
        mqtt_server.tls_port,
        serial,
        protocol,
        username=login,
        password=password,
        tls=mqtt_server.client_tls(),
    )
    assert device.connect() == 0
    wrong = mqtt_devices(
        mqtt_server.tls_port,
        serial,
        protocol,
        username=login,
        password="wrong",
        tls=mqtt_server.client_tls(),
    )
    assert wrong.connect() == BAD_CREDENTIALS
    anonymous = mqtt_devices(mqtt_server.tls_port, serial, protocol, tls=mqtt_server.client_tls())
    assert anonymous.connect() == NOT_AUTHORIZED
