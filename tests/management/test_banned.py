"""/api/v5/banned (EMQX 5 emqx_mgmt_api_banned shapes) with httpx on both backends; banned clients refused at
CONNECT with 0x8A (MQTT 3.1.1: 5, checked on the wire) and connected ones kicked (MQTT 5: DISCONNECT 0x98);
bans of one tenant never touch another's clients."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.management.conftest import two_tenant_server
from tests.mqtt_device import PROTOCOL_IDS, PROTOCOLS, V5, V311, Device, ServerMqtt, raw_connack, unique
from tests.support import ADMIN_PASSWORD, ServerThread, backends, start_server

from tether.core.clock import now_ms
from tether.tenants.models import Role

BANNED = "/api/v5/banned"
protocols = pytest.mark.parametrize("protocol", PROTOCOLS, ids=PROTOCOL_IDS)


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    yield from two_tenant_server(request.param, tmp_path_factory.mktemp("tether"))


@pytest.fixture
def admin(server: ServerThread) -> Iterator[httpx.Client]:
    """t1's operator; every ban of t1 is lifted after each test."""
    with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client
        assert client.delete(BANNED).status_code == 204


@pytest.fixture
def admin2(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("t2/admin", ADMIN_PASSWORD), timeout=30) as client:
        yield client
        assert client.delete(BANNED).status_code == 204


@pytest.fixture
def clients(mqtt_server: ServerMqtt) -> Iterator[Callable[..., Device]]:
    made: list[Device] = []

    def make(username: str, password: str, protocol: int = V5, client_id: str | None = None) -> Device:
        device = Device(
            mqtt_server.port, client_id or unique("c"), protocol, username=username, password=password
        )
        made.append(device)
        return device

    yield make
    for device in made:
        with contextlib.suppress(Exception):
            device.close()


def device_user(server: ServerThread, tenant: str = "t1") -> tuple[str, str, str]:
    serial, password = unique("SER"), "device-pw-1"
    server.call(
        server.platform.services.tenants.create_user(tenant, f"device_{serial}", password, {Role.DEVICE})
    )
    return serial, f"{tenant}/device_{serial}", password


def test_ban_lifecycle(admin: httpx.Client, admin2: httpx.Client, mqtt_server: ServerMqtt) -> None:
    created = admin.post(
        BANNED,
        json={
            "as": "clientid",
            "who": "c-1",
            "by": "ops",
            "reason": "flooding",
            "until": "2999-01-01T00:00:00Z",
        },
    )
    assert created.status_code == 200
    ban = created.json()
    assert ban == {
        "as": "clientid",
        "who": "c-1",
        "by": "ops",
        "reason": "flooding",
        "at": ban["at"],
        "until": "2999-01-01T00:00:00.000Z",
    }
    defaults = admin.post(BANNED, json={"as": "peerhost_net", "who": "10.1.0.0/16"}).json()
    assert defaults["by"] == "mgmt_api" and defaults["reason"] == "" and defaults["until"] == "infinity"
    assert admin.post(BANNED, json={"as": "username_re", "who": "^bot-"}).status_code == 200
    assert admin.post(BANNED, json={"as": "peerhost", "who": "192.0.2.7", "at": 1_700_000_000}).json()[
        "at"
    ] == ("2023-11-14T22:13:20.000Z")
    duplicate = admin.post(BANNED, json={"as": "clientid", "who": "c-1"})
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "ALREADY_EXISTS"

    listed = admin.get(BANNED).json()
    assert [(b["as"], b["who"]) for b in listed["data"]] == [
        ("peerhost", "192.0.2.7"),
        ("clientid", "c-1"),
        ("peerhost_net", "10.1.0.0/16"),
        ("username_re", "^bot-"),
    ]
    assert listed["meta"] == {"page": 1, "limit": 100, "count": 4, "hasnext": False}
    paged = admin.get(BANNED, params={"page": 2, "limit": 3}).json()
    assert len(paged["data"]) == 1 and paged["meta"] == {"page": 2, "limit": 3, "count": 4, "hasnext": False}
    assert admin.get(BANNED, params={"clientid": "c-1"}).json()["meta"]["count"] == 1
    assert admin.get(BANNED, params={"clientid": "c"}).json()["data"] == []
    fuzzy = admin.get(BANNED, params={"like_clientid": "c"}).json()
    assert [b["who"] for b in fuzzy["data"]] == ["c-1"] and "count" not in fuzzy["meta"]
    assert [b["who"] for b in admin.get(BANNED, params={"like_peerhost_net": "10.1.2.3"}).json()["data"]] == [
        "10.1.0.0/16"
    ]
    two = admin.get(BANNED, params={"clientid": "c-1", "username": "u"})
    assert two.status_code == 400 and two.json()["code"] == "BAD_REQUEST"
    # Another tenant's operator sees none of it, and cannot lift it.
    assert admin2.get(BANNED).json()["data"] == []
    assert admin2.delete(f"{BANNED}/clientid/c-1").status_code == 404

    assert admin.delete(f"{BANNED}/peerhost_net/10.1.0.0%2F16").status_code == 204
    assert admin.delete(f"{BANNED}/clientid/c-1").status_code == 204
    gone = admin.delete(f"{BANNED}/clientid/c-1")
    assert gone.status_code == 404 and gone.json()["code"] == "NOT_FOUND"
    assert admin.delete(f"{BANNED}/colour/red").status_code == 404
    assert admin.delete(BANNED).status_code == 204
    assert admin.get(BANNED).json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"as": "clientid"},
        {"as": "nickname", "who": "x"},
        {"as": "clientid", "who": ""},
        {"as": "peerhost", "who": "not-an-address"},
        {"as": "peerhost_net", "who": "10.0.0.1/8"},
        {"as": "clientid_re", "who": "(unclosed"},
        {"as": "clientid", "who": "x", "until": "2001-01-01T00:00:00Z"},
        {"as": "clientid", "who": "x", "until": "tomorrow"},
        {"as": "clientid", "who": "x", "colour": "red"},
    ],
)
def test_invalid_bans(admin: httpx.Client, body: dict[str, object], mqtt_server: ServerMqtt) -> None:
    answer = admin.post(BANNED, json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "BAD_REQUEST"


def test_devices_may_not_ban(server: ServerThread, mqtt_server: ServerMqtt) -> None:
    _, login, password = device_user(server)
    with httpx.Client(base_url=server.url, auth=(login, password), timeout=30) as device:
        assert device.get(BANNED).status_code == 403
        assert device.post(BANNED, json={"as": "clientid", "who": "x"}).status_code == 403


@pytest.mark.parametrize(
    "ban",
    [
        {"as": "clientid", "who": "{serial}"},
        {"as": "clientid_re", "who": "{serial}$"},
        {"as": "username", "who": "device_{serial}"},
        {"as": "username", "who": "t1/device_{serial}"},
        {"as": "username_re", "who": "_{serial}"},
        {"as": "peerhost", "who": "127.0.0.1"},
        {"as": "peerhost_net", "who": "127.0.0.0/8"},
    ],
    ids=lambda b: b["as"] + ("_sent" if "t1/" in b["who"] else ""),
)
def test_banned_client_is_refused_and_kicked(
    server: ServerThread,
    mqtt_server: ServerMqtt,
    clients: Callable[..., Device],
    admin: httpx.Client,
    admin2: httpx.Client,
    ban: dict[str, str],
) -> None:
    serial, login, password = device_user(server)
    live5 = clients(login, password, V5, client_id=serial)
    live3 = clients(login, password, V311, client_id=f"d:{serial}")
    assert live5.connect() == 0 and live3.connect() == 0
    other_tenant = clients("t2/admin", ADMIN_PASSWORD)
    assert other_tenant.connect() == 0
    # The same ban by the other tenant's operator touches nobody of t1 (an address ban would kick its own
    # client, which connects from the same address); t1's ban touches nobody of t2.
    body = {"as": ban["as"], "who": ban["who"].format(serial=serial)}
    by_address = ban["as"] in ("peerhost", "peerhost_net")
    if not by_address:
        assert admin2.post(BANNED, json=body).status_code == 200
    assert admin.post(BANNED, json=body).status_code == 200
    # Connected: kicked (MQTT 5: DISCONNECT 0x98 Administrative action).
    assert live5.wait_closed() == 0x98
    if ban["as"] == "clientid":  # the other ClientId of the device is not banned
        assert not live3.disconnects
    else:
        live3.wait_closed()
    # Connecting: 0x8A Banned; MQTT 3.1.1: 5 Not authorized (on the wire).
    again = clients(login, password, V5, client_id=serial)
    assert again.connect() == 0x8A
    assert raw_connack(mqtt_server.port, 4, serial, login, password.encode()) == 5
    assert raw_connack(mqtt_server.port, 5, serial, login, password.encode()) == 0x8A
    # Bad credentials still get their own answer; the other tenant's clients are unaffected.
    assert raw_connack(mqtt_server.port, 5, serial, login, b"wrong") == 0x86
    assert other_tenant.none_within(0.1) and not other_tenant.disconnects
    assert clients("t2/admin", ADMIN_PASSWORD).connect() == 0
    # Lifted: welcome again.
    assert admin.delete(BANNED).status_code == 204
    assert clients(login, password, V5, client_id=serial).connect() == 0


def test_ban_expires(
    server: ServerThread, mqtt_server: ServerMqtt, clients: Callable[..., Device], admin: httpx.Client
) -> None:
    serial, login, password = device_user(server)
    until = int(time.time()) + 60
    assert admin.post(BANNED, json={"as": "clientid", "who": serial, "until": until}).status_code == 200
    assert clients(login, password, V5, client_id=serial).connect() == 0x8A
    bans = server.platform.services.bans
    bans.clock = lambda: (until + 1) * 1000  # a minute later, without waiting for it
    try:
        assert clients(login, password, V5, client_id=serial).connect() == 0
        assert admin.get(BANNED).json()["data"] == []
        # An expired ban may be given again.
        assert admin.post(BANNED, json={"as": "clientid", "who": serial}).status_code == 200
    finally:
        bans.clock = now_ms


@protocols
def test_bans_survive_a_restart(tmp_path_factory: pytest.TempPathFactory, protocol: int) -> None:
    tmp = tmp_path_factory.mktemp("restart")
    first = start_server("sqlite", tmp)
    try:
        with httpx.Client(base_url=first.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
            assert (
                admin.post(BANNED, json={"as": "username", "who": "admin", "reason": "r"}).status_code == 200
            )
        url = first.server.settings.database_url
    finally:
        first.stop()
    second = start_server("sqlite", tmp, database_url=url)
    try:
        mqtt = ServerMqtt(second)
        device = Device(mqtt.port, unique("c"), protocol, username="t1/admin", password=ADMIN_PASSWORD)
        assert device.connect() == (0x8A if protocol == V5 else 0x87)  # paho shows 3.1.1's 5 as 0x87
        device.close()
        with httpx.Client(base_url=second.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as admin:
            assert [b["reason"] for b in admin.get(BANNED).json()["data"]] == ["r"]
    finally:
        second.stop()
