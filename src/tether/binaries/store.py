"""Where the bytes of binaries live. Implementation: storage/files.py (a directory; on PostgreSQL with several
servers, a directory they share). Every call takes the tenant id first: no store answers across tenants.

A write is two steps so that a file is never visible half written: `stage` streams the bytes to a hidden
place, `publish` makes them the content of a key in one atomic step (replacing the previous content)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

#: A key names one file, e.g. ("objects", "42") or ("events", "<source id>", "<event id>"); a prefix of
#: keys (("events", "<source id>")) names every file under it (for `delete`).
Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Staged:
    """Bytes received and durable but not yet visible under any key."""

    tenant_id: str
    token: str
    size: int


class BinaryStore(Protocol):
    async def stage(self, tenant_id: str, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        """Write every chunk; more than `limit` bytes raises PayloadTooLarge and keeps nothing."""
        ...

    async def publish(self, staged: Staged, key: Key) -> None:
        """The staged bytes become the content of `key`, atomically, replacing what was there."""
        ...

    async def discard(self, staged: Staged) -> None: ...

    async def size(self, tenant_id: str, key: Key) -> int | None:
        """The length of the file under `key`; None when there is none."""
        ...

    def read(self, tenant_id: str, key: Key) -> AsyncIterator[bytes]:
        """The content in chunks (call after `size` said it exists; gone meanwhile: no chunks)."""
        ...

    async def delete(self, tenant_id: str, key: Key) -> None:
        """Remove the file under `key` and every file under it as a prefix; nothing there is no error."""
        ...
