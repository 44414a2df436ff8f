"""/inventory/binaries and /event/events/{id}/binaries with the unmodified c8y-api client (upload, read_file,
update, delete, event attachments) and raw httpx for the rest: raw uploads, listing filters, headers, errors,
tenant isolation, files deleted with their owner, and the log-file request flow end to end."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from c8y_api import CumulocityApi
from c8y_api.model import Binary, Device, Event
from tests.support import ADMIN_PASSWORD, ServerThread

from tether.tenants.models import Role


@pytest.fixture
def c8y(server: ServerThread) -> CumulocityApi:
    return CumulocityApi(base_url=server.url, tenant_id="t1", username="admin", password=ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def device_login(server: ServerThread) -> tuple[str, str]:
    server.call(server.platform.services.tenants.create_user("t1", "device_bin", "bin-secret", {Role.DEVICE}))
    return ("t1/device_bin", "bin-secret")


@pytest.fixture(scope="module")
def other_tenant(server: ServerThread) -> tuple[str, str]:
    tenants = server.platform.services.tenants
    server.call(tenants.create_tenant("t7"))
    server.call(tenants.create_user("t7", "admin", "t7-secret", {Role.ADMIN}))
    return ("t7/admin", "t7-secret")


def files_of(server: ServerThread) -> list[str]:
    """The stored files as `<tenant>/objects/<id>` and `<tenant>/events/<source>/<event>`; listed again when
    the server removes a directory while it is being walked (its deletion task runs meanwhile)."""
    root = Path(server.platform.settings.effective_binaries_dir)
    while True:
        try:
            return sorted(
                str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".staging" not in p.parts
            )
        except FileNotFoundError:
            continue


def test_c8y_api_upload_read_update_delete(c8y: CumulocityApi, server: ServerThread) -> None:
    content = b"line one\nline two\n" * 1000
    binary = c8y.binaries.upload(io.BytesIO(content), name="config.txt", type="text/plain")
    assert binary.id and binary.name == "config.txt" and binary.type == "text/plain"
    assert binary.content_type == "text/plain" and binary.length == len(content)
    assert "c8y_IsBinary" in binary.fragments
    assert c8y.binaries.read_file(binary.id) == content
    # The metadata is a managed object of the inventory.
    mo = c8y.inventory.get(binary.id)
    assert mo.name == "config.txt" and mo.c8y_IsBinary == {} and mo.length == len(content)
    # Binary.create (the object part carries the whole document) and Binaries.update (raw PUT).
    other = Binary(
        c8y, name="fw.bin", type="application/octet-stream", file=io.BytesIO(b"\x00\x01" * 50)
    ).create()
    assert other.read_file() == b"\x00\x01" * 50
    c8y.binaries.update(other.id, io.BytesIO(b"replaced"), type="application/x-new")
    assert c8y.binaries.read_file(other.id) == b"replaced"
    updated = c8y.inventory.get(other.id)
    assert updated.length == 8 and updated.contentType == "application/x-new"
    # Binaries.create: several Binary objects uploaded one by one (no Accept header).
    assert (
        c8y.binaries.create(
            Binary(c8y, name="a.json", type="application/json", file=io.BytesIO(b"{}")),
            Binary(c8y, name="b.json", type="application/json", file=io.BytesIO(b"[]")),
        )
        == 2
    )
    jsons = c8y.binaries.get_all(type="application/json")
    assert sorted((b.name, b.length) for b in jsons) == [("a.json", 2), ("b.json", 2)]
    listed = {b.id for b in c8y.binaries.get_all()}
    assert {binary.id, other.id} <= listed
    assert c8y.binaries.get_count() >= 2
    c8y.binaries.delete(other.id)
    with pytest.raises(KeyError):
        c8y.binaries.read_file(other.id)
    assert f"t1/objects/{other.id}" not in files_of(server)
    assert f"t1/objects/{binary.id}" in files_of(server)


def test_c8y_api_event_attachments(c8y: CumulocityApi) -> None:
    device = Device(c8y, type="c8y_Sensor", name="attachments").create()
    event = Event(c8y, type="c8y_Snapshot", source=device.id, text="picture", time="now").create()
    assert not event.has_attachment()
    created = event.create_attachment(io.BytesIO(b"\x89PNG data"), content_type="image/png")
    assert created["type"] == "image/png" and created["source"] == event.id
    assert created["self"].endswith(f"/event/events/{event.id}/binaries")
    fetched = c8y.events.get(event.id)
    assert fetched.has_attachment()
    assert fetched.c8y_IsBinary == {"name": event.id, "type": "image/png", "length": 9}
    assert fetched.download_attachment() == b"\x89PNG data"
    fetched.update_attachment(io.BytesIO(b"second"), content_type="text/plain")
    assert c8y.events.download_attachment(event.id) == b"second"
    assert c8y.events.get(event.id).c8y_IsBinary["length"] == 6
    c8y.events.delete_attachment(event.id)
    assert not c8y.events.get(event.id).has_attachment()
    with pytest.raises(KeyError):
        c8y.events.download_attachment(event.id)


def test_raw_upload_keeps_content_type_and_streams_back(admin: httpx.Client) -> None:
    response = admin.post(
        "/inventory/binaries",
        content=b"%PDF-1.7 ...",
        headers={"Content-Type": "application/pdf", "Content-Disposition": 'attachment; filename="r.pdf"'},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "r.pdf" and body["type"] == "application/pdf" and body["length"] == 12
    assert response.headers["Location"] == body["self"]
    download = admin.get(f"/inventory/binaries/{body['id']}")
    assert download.status_code == 200 and download.content == b"%PDF-1.7 ..."
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-length"] == "12"
    assert "r.pdf" in download.headers["content-disposition"]


def test_multipart_object_before_file_and_listing_filters(admin: httpx.Client) -> None:
    boundary = "XyZ"
    payload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="object"\r\n\r\n'
        + json.dumps({"name": "first-object.csv", "type": "text/csv"})
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
        + "Content-Type: text/csv\r\n\r\na,b\r\n1,2\r\n"
        + f"\r\n--{boundary}--\r\n"
    ).encode()
    response = admin.post(
        "/inventory/binaries",
        content=payload,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "first-object.csv" and created["contentType"] == "text/csv"
    assert admin.get(f"/inventory/binaries/{created['id']}").content == b"a,b\r\n1,2\r\n"
    by_type = admin.get("/inventory/binaries", params={"type": "text/csv", "pageSize": 100}).json()
    assert [mo["id"] for mo in by_type["managedObjects"]] == [created["id"]]
    by_ids = admin.get("/inventory/binaries", params={"ids": created["id"], "withTotalPages": "true"}).json()
    assert by_ids["statistics"]["totalPages"] == 1
    # A plain managed object is not a binary.
    plain = admin.post("/inventory/managedObjects", json={"name": "not a file"}).json()
    assert admin.get(f"/inventory/binaries/{plain['id']}").status_code == 404
    assert plain["id"] not in [mo["id"] for mo in admin.get("/inventory/binaries").json()["managedObjects"]]


@pytest.mark.parametrize(
    ("payload", "content_type", "status"),
    [
        (b'--b\r\nContent-Disposition: form-data; name="object"\r\n\r\n{}\r\n--b--\r\n', "b", 400),
        (b'--b\r\nContent-Disposition: form-data; name="object"\r\n\r\n[1]\r\n--b--\r\n', "b", 422),
        (b'--b\r\nContent-Disposition: form-data; name="object"\r\n\r\n{nope\r\n--b--\r\n', "b", 400),
        (b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc', "b", 400),
        (b"garbage", "", 400),
        (
            b'--b\r\nContent-Disposition: form-data; name="object"\r\n\r\n{"name": "a\\u0000"}\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc\r\n--b--\r\n',
            "b",
            422,
        ),
        (
            b'--b\r\nContent-Disposition: form-data; name="file"\r\nContent-Type: a\x00b\r\n\r\n'
            b"abc\r\n--b--\r\n",
            "b",
            422,
        ),
    ],
)
def test_bad_multipart_bodies(
    admin: httpx.Client, server: ServerThread, payload: bytes, content_type: str, status: int
) -> None:
    before = files_of(server)
    kind = f"multipart/form-data; boundary={content_type}" if content_type else "multipart/form-data"
    response = admin.post("/inventory/binaries", content=payload, headers={"Content-Type": kind})
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith("inventory/")
    assert files_of(server) == before
    staging = Path(server.platform.settings.effective_binaries_dir) / ".staging"
    assert list(staging.iterdir()) == []


def test_event_attachment_errors(admin: httpx.Client) -> None:
    device = admin.post("/inventory/managedObjects", json={"name": "d", "c8y_IsDevice": {}}).json()
    event = admin.post(
        "/event/events",
        json={"source": {"id": device["id"]}, "type": "t", "text": "x", "time": "2024-01-01T00:00:00Z"},
    ).json()
    path = f"/event/events/{event['id']}/binaries"
    assert admin.get(path).status_code == 404
    assert admin.put(path, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 404
    assert admin.delete(path).status_code == 404
    first = admin.post(path, content=b"raw text", headers={"Content-Type": "text/plain"})
    assert first.status_code == 201 and first.json()["name"] == event["id"]
    again = admin.post(path, content=b"more", headers={"Content-Type": "text/plain"})
    assert again.status_code == 409 and again.json()["error"] == "event/Conflict"
    assert admin.get(path).content == b"raw text"
    assert admin.post("/event/events/999999999/binaries", content=b"x").status_code == 404
    assert admin.post("/event/events/abc/binaries", content=b"x").status_code in (400, 404)


def test_files_go_with_event_and_device(admin: httpx.Client, server: ServerThread) -> None:
    device = admin.post("/inventory/managedObjects", json={"name": "d2", "c8y_IsDevice": {}}).json()
    ids = []
    for n in range(3):
        event = admin.post(
            "/event/events",
            json={
                "source": {"id": device["id"]},
                "type": "t",
                "text": f"{n}",
                "time": "2024-01-01T00:00:00Z",
            },
        ).json()
        assert admin.post(f"/event/events/{event['id']}/binaries", content=b"f%d" % n).status_code == 201
        ids.append(event["id"])
    keys = [f"t1/events/{device['id']}/{i}" for i in ids]
    assert set(keys) <= set(files_of(server))
    assert admin.delete(f"/event/events/{ids[0]}").status_code == 204
    _eventually(lambda: keys[0] not in files_of(server))
    assert keys[1] in files_of(server)
    # Deleting the device takes its events (foreign keys) and their files.
    assert admin.delete(f"/inventory/managedObjects/{device['id']}").status_code == 204
    _eventually(lambda: not (set(keys) & set(files_of(server))))
    # A binary deleted as a managed object loses its file too.
    binary = admin.post("/inventory/binaries", content=b"abc", headers={"Content-Type": "text/plain"}).json()
    assert f"t1/objects/{binary['id']}" in files_of(server)
    assert admin.delete(f"/inventory/managedObjects/{binary['id']}").status_code == 204
    _eventually(lambda: f"t1/objects/{binary['id']}" not in files_of(server))


def _eventually(check: Any) -> None:
    """The file of an object deleted through another API goes in a task right after the deletion."""
    for _ in range(200):
        if check():
            return
        time.sleep(0.01)
    assert check()


def test_tenant_isolation_and_device_ownership(
    admin: httpx.Client, server: ServerThread, other_tenant: tuple[str, str], device_login: tuple[str, str]
) -> None:
    mine = admin.post(
        "/inventory/binaries", content=b"t1 secret", headers={"Content-Type": "text/plain"}
    ).json()
    with httpx.Client(base_url=server.url, auth=other_tenant) as other:
        assert other.get(f"/inventory/binaries/{mine['id']}").status_code == 404
        assert other.put(f"/inventory/binaries/{mine['id']}", content=b"x").status_code == 404
        assert other.delete(f"/inventory/binaries/{mine['id']}").status_code == 404
        assert mine["id"] not in [m["id"] for m in other.get("/inventory/binaries").json()["managedObjects"]]
        theirs = other.post("/inventory/binaries", content=b"t7 data", headers={"Content-Type": "text/plain"})
        assert theirs.status_code == 201
        assert other.get(f"/inventory/binaries/{theirs.json()['id']}").content == b"t7 data"
    with httpx.Client(base_url=server.url, auth=device_login) as device:
        assert device.get(f"/inventory/binaries/{mine['id']}").status_code == 404
        own = device.post(
            "/inventory/binaries", content=b"device log", headers={"Content-Type": "text/plain"}
        )
        assert own.status_code == 201 and own.json()["owner"] == "device_bin"
        assert device.get(f"/inventory/binaries/{own.json()['id']}").content == b"device log"
    assert admin.get(f"/inventory/binaries/{mine['id']}").content == b"t1 secret"
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get(f"/inventory/binaries/{mine['id']}").status_code == 401
        assert anonymous.post("/inventory/binaries", content=b"x").status_code == 401


def test_log_file_request_flow(
    admin: httpx.Client, server: ServerThread, device_login: tuple[str, str]
) -> None:
    """An operator asks for a log file (c8y_LogfileRequest); the device uploads it as an event attachment and
    finishes the operation with the file's URL (Cumulocity's log request flow)."""
    with httpx.Client(base_url=server.url, auth=device_login) as device:
        me = device.post(
            "/inventory/managedObjects",
            json={"name": "logger", "c8y_IsDevice": {}, "c8y_SupportedLogs": ["syslog"]},
        ).json()
        request = {"logFile": "syslog", "dateFrom": "2024-01-01T00:00:00Z", "dateTo": "2024-01-02T00:00:00Z"}
        operation = admin.post(
            "/devicecontrol/operations", json={"deviceId": me["id"], "c8y_LogfileRequest": request}
        ).json()
        pending = device.get(
            "/devicecontrol/operations", params={"deviceId": me["id"], "status": "PENDING"}
        ).json()["operations"]
        assert [op["id"] for op in pending] == [operation["id"]]
        assert (
            device.put(
                f"/devicecontrol/operations/{operation['id']}", json={"status": "EXECUTING"}
            ).status_code
            == 200
        )
        event = device.post(
            "/event/events",
            json={
                "source": {"id": me["id"]},
                "type": "c8y_Logfile",
                "text": "syslog",
                "time": "2024-01-02T00:00:00Z",
            },
        ).json()
        log = b"".join(b"Jan 1 00:00:%02d host kernel: line %d\n" % (i % 60, i) for i in range(5000))
        uploaded = device.post(
            f"/event/events/{event['id']}/binaries",
            files={"file": ("syslog.log", log, "text/plain")},
        )
        assert uploaded.status_code == 201, uploaded.text
        url = uploaded.json()["self"]
        done = device.put(
            f"/devicecontrol/operations/{operation['id']}",
            json={"status": "SUCCESSFUL", "c8y_LogfileRequest": {**request, "file": url}},
        )
        assert done.status_code == 200, done.text
    finished = admin.get(f"/devicecontrol/operations/{operation['id']}").json()
    assert finished["status"] == "SUCCESSFUL"
    assert admin.get(finished["c8y_LogfileRequest"]["file"]).content == log
    assert admin.get(f"/event/events/{event['id']}").json()["c8y_IsBinary"]["name"] == "syslog.log"
