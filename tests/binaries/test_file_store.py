"""The file BinaryStore: an interrupted or oversized write leaves the previous content and no visible file,
keys cannot leave the root, stale staged files of a crash go at the next start (fresh ones of another server
sharing the directory stay), and a prefix deletes every file under it."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tether.core.errors import PayloadTooLarge
from tether.storage.files import CHUNK, STAGING, FileBinaryStore

pytestmark = pytest.mark.anyio


async def chunks(*parts: bytes, fail: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail:
        raise ConnectionResetError("the client went away")


async def read(store: FileBinaryStore, key: tuple[str, ...]) -> bytes:
    return b"".join([chunk async for chunk in store.read("t1", key)])


def staged_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / STAGING).iterdir())


async def test_a_broken_or_oversized_upload_keeps_the_old_content(tmp_path: Path) -> None:
    store = FileBinaryStore(tmp_path)
    store.open()
    first = await store.stage("t1", chunks(b"a" * CHUNK, b"b" * 10), limit=10 * CHUNK)
    await store.publish(first, ("objects", "1"))
    assert await store.size("t1", ("objects", "1")) == CHUNK + 10
    with pytest.raises(ConnectionResetError):
        await store.stage("t1", chunks(b"new" * CHUNK, fail=True), limit=10 * CHUNK)
    with pytest.raises(PayloadTooLarge):
        await store.stage("t1", chunks(b"x" * 600, b"y" * 600), limit=1000)
    assert staged_files(tmp_path) == []
    assert await read(store, ("objects", "1")) == b"a" * CHUNK + b"b" * 10
    second = await store.stage("t1", chunks(b"replaced"), limit=100)
    assert await store.size("t1", ("objects", "1")) == CHUNK + 10  # staged is not visible
    await store.publish(second, ("objects", "1"))
    assert await read(store, ("objects", "1")) == b"replaced"
    assert await store.size("t1", ("objects", "2")) is None
    assert await read(store, ("objects", "2")) == b""


async def test_tenants_and_keys_stay_inside_the_root(tmp_path: Path) -> None:
    store = FileBinaryStore(tmp_path / "root")
    store.open()
    for tenant, key in [("..", ("x",)), ("t1", ("..", "..", "etc")), ("t1", ("a/b",)), ("", ("x",))]:
        with pytest.raises(ValueError):
            await store.size(tenant, key)
    with pytest.raises(ValueError):
        await store.stage("../t2", chunks(b"x"), limit=10)
    staged = await store.stage("t1", chunks(b"mine"), limit=10)
    await store.publish(staged, ("objects", "1"))
    assert await store.size("t2", ("objects", "1")) is None


async def test_prefix_delete_and_stale_staging(tmp_path: Path) -> None:
    store = FileBinaryStore(tmp_path)
    store.open()
    for event in ("1", "2"):
        staged = await store.stage("t1", chunks(b"log"), limit=10)
        await store.publish(staged, ("events", "7", event))
    await store.delete("t1", ("events", "7", "1"))
    assert await store.size("t1", ("events", "7", "1")) is None
    assert await store.size("t1", ("events", "7", "2")) == 3
    await store.delete("t1", ("events", "7"))
    assert await store.size("t1", ("events", "7", "2")) is None
    await store.delete("t1", ("events", "8"))  # nothing there: no error
    stale, fresh = tmp_path / STAGING / "stale", tmp_path / STAGING / "fresh"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"another server's upload")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    FileBinaryStore(tmp_path).open()
    assert staged_files(tmp_path) == ["fresh"]
