"""Splitting a byte stream into MQTT packets (spec 2.1: fixed header + Remaining Length).

:class:`PacketFramer` buffers partial packets (it works when fed one byte at a time) and rejects a packet that
exceeds the maximum packet size as soon as its Remaining Length is known, before the body is buffered.
Complete packets are handed out as ``(first_byte, buffer, body_start, body_end)`` on an immutable ``bytes``
buffer, so decoding needs no further copy of the stream. :func:`body_start` and :func:`peek_protocol_level`
look into a packet before it is complete (a CONNECT too large to buffer is still answered in its version).
"""

from __future__ import annotations

from .constants import MAX_PACKET_SIZE
from .errors import PacketTooLarge, ProtocolError
from .fixed_header import parse_fixed_header

__all__ = ["Frame", "PacketFramer", "body_start", "peek_protocol_level"]

#: What ``_pending`` is while no partial packet is buffered: one shared empty bytearray, never written to (a
#: partial packet gets a bytearray of its own; an idle connection does not keep an empty one of 56 bytes).
_NOTHING_PENDING = bytearray()

# Bytes kept of a packet known to be too large: enough for its fixed header and a CONNECT's protocol level.
_KEEP = 16

#: ``(first fixed header byte, buffer, start of the body, end of the body)``
Frame = tuple[int, bytes, int, int]


class PacketFramer:
    """Incremental packet splitter. Feed bytes with :meth:`feed`, take packets with :meth:`next_frame`."""

    __slots__ = ("_buf", "_pending", "_pos", "_too_large", "max_packet_size")

    def __init__(self, max_packet_size: int = MAX_PACKET_SIZE) -> None:
        #: Largest acceptable packet, fixed header included (MQTT 5 "Maximum Packet Size", spec 3.1.2.11.4).
        self.max_packet_size = max_packet_size
        # Invariant: either _pending is empty, or _buf is fully consumed (_pos == len(_buf)).
        self._buf = b""
        self._pos = 0
        self._pending = _NOTHING_PENDING
        self._too_large: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet handed out as frames."""
        return len(self._buf) - self._pos + len(self._pending)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._too_large is not None:
            return
        pending = self._pending
        if pending:
            pending += data
            # Do not let a packet that is already known to be too large (or broken) accumulate in memory: stop
            # buffering; :meth:`next_frame` raises the error and further data is dropped.
            try:
                header = parse_fixed_header(pending, 0, len(pending))
            except ProtocolError as exc:
                self._too_large = exc
                return
            if header is not None and header[0] + header[1] > self.max_packet_size:
                self._too_large = PacketTooLarge(header[0] + header[1], self.max_packet_size)
                del pending[_KEEP:]  # only the start is still of interest (see peek)
        elif self._pos < len(self._buf):
            pending = self._pending = bytearray(memoryview(self._buf)[self._pos :])
            pending += data
            self._buf = b""
            self._pos = 0
        else:
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0

    def clear(self) -> None:
        """Drop what is buffered and ignore what comes: the connection is over (its memory is returned now,
        not when the connection object is collected)."""
        self._buf = b""
        self._pos = 0
        self._pending = _NOTHING_PENDING
        if self._too_large is None:
            self._too_large = ProtocolError(None, "the connection is closed")

    def peek(self, n: int) -> bytes:
        """Up to ``n`` received bytes of the next packet (fixed header included), without consuming them."""
        if self._pending:
            return bytes(self._pending[:n])
        return self._buf[self._pos : self._pos + n]

    def peek_first_byte(self) -> int | None:
        """The first byte of the next packet, if it has arrived (allows checks before the body arrives)."""
        if self._pending:
            return self._pending[0]
        if self._pos < len(self._buf):
            return self._buf[self._pos]
        return None

    def next_frame(self) -> Frame | None:
        """The next complete packet, or ``None`` if more data is needed.

        Raises :class:`PacketTooLarge` (0x95) or :class:`MalformedPacket` (bad Remaining Length).
        """
        if self._too_large is not None:
            raise self._too_large
        maximum = self.max_packet_size
        pending = self._pending
        if pending:
            header = parse_fixed_header(pending, 0, len(pending))
            if header is None:
                return None
            total = header[0] + header[1]
            if total > maximum:
                raise PacketTooLarge(total, maximum)
            if len(pending) < total:
                return None
            self._buf = bytes(pending)
            self._pos = 0
            self._pending = _NOTHING_PENDING
        buf = self._buf
        pos = self._pos
        n = len(buf)
        if pos >= n:
            return None
        header = parse_fixed_header(buf, pos, n)
        if header is not None:
            remaining, header_len = header
            total = header_len + remaining
            # spec 3.1.2.11.4 / 3.2.2.3.6: a packet larger than the Maximum Packet Size is rejected with 0x95.
            if total > maximum:
                raise PacketTooLarge(total, maximum)
            end = pos + total
            if end <= n:
                if end == n:
                    self._buf = b""
                    self._pos = 0
                else:
                    self._pos = end
                return buf[pos], buf, pos + header_len, end
        # Incomplete: keep the tail until more data arrives.
        self._pending = bytearray(memoryview(buf)[pos:])
        self._buf = b""
        self._pos = 0
        return None


def body_start(head: bytes) -> int | None:
    """Where the variable header starts after the fixed header at the start of ``head`` (spec 2.1.4)."""
    for i in range(1, min(len(head), 5)):
        if not head[i] & 0x80:
            return i + 1
    return None


def peek_protocol_level(buf: bytes, pos: int, end: int) -> int | None:
    """The Protocol Level byte of a CONNECT body, if it can be found (spec 3.1.2.2)."""
    if end - pos < 2:
        return None
    level_pos = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    return buf[level_pos] if level_pos < end else None
