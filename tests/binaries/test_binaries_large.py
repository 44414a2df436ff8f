"""Binaries of hundreds of MB stream through the server: its resident memory does not grow by the file size
(measured on a server process of its own), on both backends; and the size limit answers 413."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.binaries.serve_process import ADMIN_PASSWORD, ServerProcess
from tests.support import backends, fresh_database, start_server

MB = 1024 * 1024
SIZE = 300 * MB
#: What the server may add to its resident memory while a 300 MB file goes through it (buffers, allocator).
HEADROOM = 64 * MB


def pattern(size: int, chunk: int = MB) -> Iterator[bytes]:
    """`size` bytes generated as they are sent (never one bytes object), different in every chunk."""
    sent = 0
    block = bytes(range(256)) * (chunk // 256)
    while sent < size:
        n = min(chunk, size - sent)
        yield (sent // chunk).to_bytes(8, "big") + block[8:n] if n >= 8 else block[:n]
        sent += n


class Unsized:
    """A readable file of no known size."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def read(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
@pytest.mark.parametrize("backend", backends())
def test_a_300_mb_binary_streams_both_ways_in_bounded_memory(
    backend: str, multipart: bool, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path, asyncio.run(fresh_database(backend, tmp_path)))
    try:
        expected = hashlib.sha256()
        for chunk in pattern(SIZE):
            expected.update(chunk)
        with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=120) as client:
            client.get("/inventory/binaries")  # the code paths are loaded before the baseline
            baseline, _ = server.memory()
            with server.sampled() as upload_peak:
                if multipart:  # as c8y-api sends it, chunked (a file of unknown size)
                    created = client.post(
                        "/inventory/binaries",
                        files={"file": (None, Unsized(pattern(SIZE)), "application/x-big")},
                        data={"object": '{"name": "big", "type": "application/x-big"}'},
                    )
                else:
                    created = client.post(
                        "/inventory/binaries",
                        content=pattern(SIZE),
                        headers={
                            "Content-Type": "application/x-big",
                            "Content-Disposition": 'attachment; filename="big"',
                        },
                    )
            assert created.status_code == 201, created.text
            assert created.json()["length"] == SIZE and created.json()["name"] == "big"
            received = hashlib.sha256()
            length = 0
            with (
                server.sampled() as download_peak,
                client.stream("GET", f"/inventory/binaries/{created.json()['id']}") as download,
            ):
                assert download.status_code == 200
                assert download.headers["content-length"] == str(SIZE)
                for chunk in download.iter_bytes():
                    received.update(chunk)
                    length += len(chunk)
        assert length == SIZE and received.hexdigest() == expected.hexdigest()
        assert upload_peak[0] - baseline < HEADROOM, (baseline, upload_peak)
        assert download_peak[0] - baseline < HEADROOM, (baseline, download_peak)
    finally:
        server.stop()


@pytest.mark.parametrize("backend", backends())
def test_the_size_limit_answers_413_and_keeps_nothing(backend: str, tmp_path: Path) -> None:
    server = start_server(backend, tmp_path, max_binary_size=MB)
    try:
        root = Path(server.platform.settings.effective_binaries_dir)
        with httpx.Client(base_url=server.url, auth=("t1/admin", ADMIN_PASSWORD), timeout=30) as client:
            exact = client.post(
                "/inventory/binaries", content=b"x" * MB, headers={"Content-Type": "text/plain"}
            )
            assert exact.status_code == 201
            declared = client.post("/inventory/binaries", content=b"x" * (MB + 1))
            assert declared.status_code == 413
            assert declared.json()["error"] == "inventory/Payload Too Large"
            assert "1048576" in declared.json()["message"]
            streamed = client.post("/inventory/binaries", content=pattern(2 * MB, 64 * 1024))
            assert streamed.status_code == 413
            # A file of unknown length: httpx sends the multipart body chunked, the limit hits mid-stream.
            multipart = client.post(
                "/inventory/binaries",
                files={"file": ("f", Unsized(pattern(2 * MB, 64 * 1024)), "text/plain")},
            )
            assert multipart.status_code == 413
            event = _event(client)
            attached = client.post(f"/event/events/{event}/binaries", content=pattern(2 * MB, 64 * 1024))
            assert attached.status_code == 413 and attached.json()["error"] == "event/Payload Too Large"
            assert "c8y_IsBinary" not in client.get(f"/event/events/{event}").json()
            listed = client.get("/inventory/binaries").json()["managedObjects"]
            assert [mo["id"] for mo in listed] == [exact.json()["id"]]
        assert list((root / ".staging").iterdir()) == []
        assert [p.name for p in (root / "t1" / "objects").iterdir()] == [exact.json()["id"]]
    finally:
        server.stop()


def _event(client: httpx.Client) -> str:
    device = client.post("/inventory/managedObjects", json={"name": "d", "c8y_IsDevice": {}}).json()
    body = {"source": {"id": device["id"]}, "type": "t", "text": "x", "time": "2024-01-01T00:00:00Z"}
    event_id: str = client.post("/event/events", json=body).json()["id"]
    return event_id
