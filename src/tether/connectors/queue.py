"""An action's buffer of outputs: in memory, and with EMQX's `buffer_mode = "volatile_offload"` spilled to a
file in the data directory once the memory part holds `buffer_seg_bytes`; bounded as a whole by
`max_buffer_bytes`. Order is kept: once outputs go to the file, new ones follow them there until the file
is read back. "Volatile" as EMQX means it: the file is a buffer, not a journal; a restart starts it empty.

Each output carries its key (the publisher's clientid): the runner's workers take the outputs of one key in
order. Records are length-prefixed pickles of the outputs (values of the rule language: None, bool, int,
float, str, bytes, lists and maps), written and read by this process only."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import struct
import time
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["Item", "OutputQueue", "output_size"]

Item = tuple[float, dict[str, Any], int, object]  # (monotonic time it came, output, its size, its key)
_LENGTH = struct.Struct(">I")


def output_size(output: dict[str, Any]) -> int:
    """About what an output holds in memory (its texts and bytes, and a little for each field)."""
    size = 64
    for value in output.values():
        size += 16 + (len(value) if type(value) is str or type(value) is bytes else 16)
    return size


class OutputQueue:
    def __init__(self, max_bytes: int, spill_path: Path | None, segment_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.spill_path = spill_path  # None: memory only
        self.segment_bytes = segment_bytes
        self.memory: deque[Item] = deque()
        self.memory_bytes = 0
        self.spilled = 0  # outputs in the file not read back yet
        self.spilled_bytes = 0
        self._writer: Any = None
        self._read_at = 0

    def configure(self, max_bytes: int, spill_path: Path | None, segment_bytes: int) -> None:
        """New limits (the action changed); what is spilled stays where it is until read back."""
        self.max_bytes, self.segment_bytes = max_bytes, segment_bytes
        if not self.spilled:
            self._drop_file()
            self.spill_path = spill_path

    def __len__(self) -> int:
        return len(self.memory) + self.spilled

    @property
    def bytes(self) -> int:
        return self.memory_bytes + self.spilled_bytes

    def put(self, output: dict[str, Any], key: object = None, held: int = 0) -> bool:
        """False when the buffer is full (`held`: bytes of outputs taken out but not done yet)."""
        size = output_size(output)
        if self.memory_bytes + self.spilled_bytes + held + size > self.max_bytes:
            return False
        if self.spill_path is not None and (self.spilled or self.memory_bytes + size > self.segment_bytes):
            if self._writer is None:
                self.spill_path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = self.spill_path.open("ab")
            record = pickle.dumps((time.monotonic(), output, size, key), protocol=pickle.HIGHEST_PROTOCOL)
            self._writer.write(_LENGTH.pack(len(record)) + record)
            self.spilled += 1
            self.spilled_bytes += size
        else:
            self.memory.append((time.monotonic(), output, size, key))
            self.memory_bytes += size
        return True

    async def refill(self) -> None:
        """With the memory part empty: read the next segment of the file back into it."""
        if self.memory or not self.spilled or self.spill_path is None:
            return
        self._writer.flush()
        items, self._read_at = await asyncio.to_thread(
            _read, self.spill_path, self._read_at, self.segment_bytes
        )
        for item in items:
            self.memory.append(item)
            self.memory_bytes += item[2]
            self.spilled_bytes -= item[2]
        self.spilled -= len(items)
        if not self.spilled:
            self._drop_file()

    def popleft(self) -> Item:
        item = self.memory.popleft()
        self.memory_bytes -= item[2]
        return item

    def unshift(self, items: list[Item]) -> None:
        """Put back, in front and in this order, outputs taken out and not done."""
        self.memory.extendleft(reversed(items))
        self.memory_bytes += sum(item[2] for item in items)

    def expire(self, limit: float) -> int:
        """Drop the outputs (of the memory part) that came before `limit`; how many."""
        expired = 0
        memory = self.memory
        while memory and memory[0][0] < limit:
            self.popleft()
            expired += 1
        return expired

    def _drop_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self.spill_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.spill_path.unlink()
        self._read_at = 0

    def close(self) -> None:
        self._drop_file()


def _read(path: Path, offset: int, budget: int) -> tuple[list[Item], int]:
    items: list[Item] = []
    used = 0
    with path.open("rb") as file:
        file.seek(offset)
        while used < budget or not items:
            head = file.read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                break
            (length,) = _LENGTH.unpack(head)
            item: Item = pickle.loads(file.read(length))
            items.append(item)
            used += item[2]
        return items, file.tell()
