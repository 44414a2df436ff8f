"""MQTT logins against the platform's credentials (docs/protocols.md section 1), with paho-mqtt at 5.0 and
3.1.1 and raw bytes for the exact 3.1.1 return codes: Cumulocity users (administrator, device, bootstrap),
EMQX built-in accounts, API keys (known, no MQTT rights), and every refusal."""

from __future__ import annotations

import httpx
import pytest
from tests.mqtt_device import (
    BAD_CREDENTIALS,
    NOT_AUTHORIZED,
    PROTOCOL_IDS,
    PROTOCOLS,
    ServerMqtt,
    raw_connack,
    unique,
)
from tests.support import ADMIN_PASSWORD, BOOTSTRAP_PASSWORD

from tether.adapters.login import Login, login_of

USERS = "/api/v5/authentication/password_based:built_in_database/users"
protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)


@protocols
def test_tenant_users_log_in(mqtt_server: ServerMqtt, mqtt_devices, accounts, protocol: int) -> None:
    serial, login, password = accounts.device()
    cases = [
        ("t1/admin", ADMIN_PASSWORD, unique()),  # argon2
        ("admin", ADMIN_PASSWORD, unique()),  # plain user: the default tenant
        (login, password, serial),  # a device user: fast hash
        (login, password, f"d:{serial}:myTemplate"),
        ("management/devicebootstrap", BOOTSTRAP_PASSWORD, unique("BOOT")),
    ]
    for username, secret, client_id in cases:
        device = mqtt_devices(mqtt_server.port, client_id, protocol, username=username, password=secret)
        assert device.connect() == 0, username


@protocols
def test_bad_credentials_are_refused_with_0x86(
    mqtt_server: ServerMqtt, mqtt_devices, accounts, protocol: int
) -> None:
    serial, login, password = accounts.device()
    cases = [
        (login, password + "x"),  # wrong password
        ("t1/admin", "wrong"),
        ("t1/nobody", "whatever"),  # unknown user
        ("nobody", "whatever"),
        ("device_unknown-serial", "whatever"),  # unknown device user (fast decoy)
        ("t404/admin", ADMIN_PASSWORD),  # unknown tenant
        (f"t2/device_{serial}", password),  # the right password in another tenant
        ("/admin", ADMIN_PASSWORD),
        ("t1/", ADMIN_PASSWORD),
    ]
    for username, secret in cases:
        device = mqtt_devices(mqtt_server.port, unique(), protocol, username=username, password=secret)
        assert device.connect() == BAD_CREDENTIALS, username


@pytest.mark.parametrize(("version", "bad", "not_authorized"), [(5, 0x86, 0x87), (4, 4, 5)])
def test_connack_codes_on_the_wire(
    mqtt_server: ServerMqtt, admin: httpx.Client, version: int, bad: int, not_authorized: int
) -> None:
    """MQTT 3.1.1 return codes are 4 (bad user name or password) and 5 (not authorized)."""
    assert raw_connack(mqtt_server.port, version, unique(), "t1/admin", ADMIN_PASSWORD.encode()) == 0
    assert raw_connack(mqtt_server.port, version, unique(), "t1/admin", b"nope") == bad
    assert raw_connack(mqtt_server.port, version, unique(), "t1/ghost", b"nope") == bad
    assert raw_connack(mqtt_server.port, version, unique(), None, None) == not_authorized
    key = admin.post("/api/v5/api_key", json={"name": unique("wire")}).json()
    assert (
        raw_connack(mqtt_server.port, version, unique(), key["api_key"], key["api_secret"].encode())
        == not_authorized
    )
    assert raw_connack(mqtt_server.port, version, unique(), key["api_key"], b"bad-secret") == bad
    # A password that is not UTF-8 cannot match any secret.
    assert raw_connack(mqtt_server.port, version, unique(), "t1/admin", b"\xff\xfe") == bad


@protocols
def test_no_credentials_is_not_authorized(mqtt_server: ServerMqtt, mqtt_devices, protocol: int) -> None:
    assert mqtt_devices(mqtt_server.port, unique(), protocol).connect() == NOT_AUTHORIZED


@protocols
def test_api_key_is_a_credential_without_mqtt_rights(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, protocol: int
) -> None:
    key = admin.post("/api/v5/api_key", json={"name": unique("mqtt")}).json()
    device = mqtt_devices(
        mqtt_server.port, unique(), protocol, username=key["api_key"], password=key["api_secret"]
    )
    assert device.connect() == NOT_AUTHORIZED
    device = mqtt_devices(mqtt_server.port, unique(), protocol, username=key["api_key"], password="wrong")
    assert device.connect() == BAD_CREDENTIALS


@protocols
def test_emqx_built_in_users(
    mqtt_server: ServerMqtt, mqtt_devices, admin: httpx.Client, protocol: int
) -> None:
    user_id = unique("emqx")
    assert admin.post(USERS, json={"user_id": user_id, "password": "first-pw"}).status_code == 201
    assert (
        mqtt_devices(mqtt_server.port, unique(), protocol, username=user_id, password="first-pw").connect()
        == 0
    )
    assert (
        mqtt_devices(
            mqtt_server.port, unique(), protocol, username=f"t1/{user_id}", password="first-pw"
        ).connect()
        == 0
    )
    assert (
        mqtt_devices(mqtt_server.port, unique(), protocol, username=user_id, password="other").connect()
        == BAD_CREDENTIALS
    )
    # A new password takes effect at once (the verified-credential cache forgets the old one).
    assert admin.put(f"{USERS}/{user_id}", json={"password": "second-pw"}).status_code == 200
    assert (
        mqtt_devices(mqtt_server.port, unique(), protocol, username=user_id, password="first-pw").connect()
        == BAD_CREDENTIALS
    )
    assert (
        mqtt_devices(mqtt_server.port, unique(), protocol, username=user_id, password="second-pw").connect()
        == 0
    )
    # A deleted user cannot log in.
    assert admin.delete(f"{USERS}/{user_id}").status_code == 204
    assert (
        mqtt_devices(mqtt_server.port, unique(), protocol, username=user_id, password="second-pw").connect()
        == BAD_CREDENTIALS
    )


def test_client_id_names_the_device(mqtt_server: ServerMqtt, mqtt_devices, accounts) -> None:
    """`serial`, `d:serial` and `d:serial:templateId` identify the device; the SmartREST adapter reads the
    serial and template id from the client's login record."""
    serial, login, password = accounts.device()
    for client_id, template in ((serial, None), (f"d:{serial}", None), (f"d:{serial}:tpl-1", "tpl-1")):
        device = mqtt_devices(mqtt_server.port, client_id, username=login, password=password)
        assert device.connect() == 0

        def record(client_id: str = client_id) -> Login:
            async def find() -> Login:
                broker_ = mqtt_server.broker
                for connection in broker_.connections:
                    if connection.client is not None and connection.client.client_id == client_id:
                        found = login_of(connection.client)
                        assert found is not None
                        return found
                raise AssertionError(client_id)

            return mqtt_server.server.call(find())

        found = record()
        assert found.serial == serial
        assert found.template_id == template
        assert found.kind == "user"
        assert found.superuser is False
        assert found.principal.username == f"device_{serial}"
        assert found.principal.tenant_id == "t1"
        device.close()


def test_presence_records_connections(mqtt_server: ServerMqtt, mqtt_devices, accounts) -> None:
    serial, login, password = accounts.device()
    device = mqtt_devices(mqtt_server.port, serial, username=login, password=password)
    assert device.connect() == 0
    presence = mqtt_server.hooks.presence
    status = mqtt_server.server.call(_get(presence, "$tenant/t1/", serial))
    assert status.connected and status.protocol == 5 and status.tenant_id == "t1"
    assert status.peer.startswith("127.0.0.1:")
    device.close()
    mqtt_server.server.call(_until(lambda: not presence.get("$tenant/t1/", serial).connected))
    status = presence.get("$tenant/t1/", serial)
    assert status.disconnected_at is not None and status.reason == 0


async def _get(presence, mountpoint: str, client_id: str):
    return presence.get(mountpoint, client_id)


async def _until(predicate) -> None:
    import asyncio

    while not predicate():  # noqa: ASYNC110 - presence has no event to wait on
        await asyncio.sleep(0.01)
