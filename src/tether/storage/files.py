"""The `BinaryStore` on a file system: one file per binary under <root>/<tenant>/<key...>.

A file is written under <root>/.staging, fsynced, then renamed into place (rename is atomic within one file
system, POSIX rename(2)) and the directory fsynced: a crash leaves the old content or the new one, never half
a file; staged files a crash left behind are removed at the next start once an hour old. Reads and writes go
through worker threads in chunks of CHUNK bytes, so no file is ever held in memory. With PostgreSQL and
several servers the root is a directory they all mount (docs/binaries.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from tether.binaries.store import Key, Staged
from tether.core.errors import PayloadTooLarge

CHUNK = 1024 * 1024
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
STAGING = ".staging"
STALE = 3600


def _checked(part: str) -> str:
    """Tenant ids and key parts become path components: nothing that could climb out of the root."""
    if not _PART.fullmatch(part) or ".." in part:
        raise ValueError(f"not a safe path component: {part!r}")
    return part


class FileBinaryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def open(self) -> None:
        """Create the root; forget uploads a crashed process left unfinished. Other servers may share the
        directory and be uploading right now: only staged files untouched for STALE seconds go (an upload in
        progress writes to its file continuously)."""
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - STALE
        for leftover in staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def _path(self, tenant_id: str, key: Key) -> Path:
        return self.root.joinpath(_checked(tenant_id), *(_checked(part) for part in key))

    def _staged_path(self, staged: Staged) -> Path:
        return self.root / STAGING / _checked(staged.token)

    async def stage(self, tenant_id: str, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        _checked(tenant_id)
        token = uuid.uuid4().hex
        path = self.root / STAGING / token
        handle = await asyncio.to_thread(_create, path)
        size = 0
        buffer = bytearray()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The file exceeds the limit of {limit} bytes", resource="binaries")
                buffer += chunk
                if len(buffer) >= CHUNK:
                    await asyncio.to_thread(handle.write, buffer)
                    buffer = bytearray()
            await asyncio.to_thread(_finish, handle, bytes(buffer))
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        return Staged(tenant_id, token, size)

    async def publish(self, staged: Staged, key: Key) -> None:
        await asyncio.to_thread(_move, self._staged_path(staged), self._path(staged.tenant_id, key))

    async def discard(self, staged: Staged) -> None:
        self._staged_path(staged).unlink(missing_ok=True)

    async def size(self, tenant_id: str, key: Key) -> int | None:
        path = self._path(tenant_id, key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            return None
        return stat.st_size if path.is_file() else None

    async def read(self, tenant_id: str, key: Key) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self._path(tenant_id, key), "rb")
        except FileNotFoundError:
            return
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, tenant_id: str, key: Key) -> None:
        await asyncio.to_thread(_remove, self._path(tenant_id, key))


def _create(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "xb")


def _finish(handle: BinaryIO, rest: bytes) -> None:
    with handle:
        handle.write(rest)
        handle.flush()
        os.fsync(handle.fileno())


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    _sync_directory(target.parent)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    if path.parent.exists():
        _sync_directory(path.parent)


def _sync_directory(path: Path) -> None:
    """The rename or unlink itself is durable once its directory is (fsync(2) on the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
