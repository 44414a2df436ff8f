"""Raw MQTT bytes built by hand, independently of tether.mqtt's codec, and a blocking socket client."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

TIMEOUT = 10.0  # seconds; only guards against hangs


def vbi(n: int) -> bytes:
    """Variable Byte Integer (spec 1.5.5)."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def u16(n: int) -> bytes:
    return struct.pack("!H", n)


def u32(n: int) -> bytes:
    return struct.pack("!I", n)


def string(s: str) -> bytes:
    data = s.encode()
    return u16(len(data)) + data


def binary(b: bytes) -> bytes:
    return u16(len(b)) + b


def packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + vbi(len(body)) + body


def props(*items: bytes) -> bytes:
    """A property block: each item is identifier byte + value bytes."""
    body = b"".join(items)
    return vbi(len(body)) + body


# Property builders (spec 2.2.2.2, table 2-4).
def p_session_expiry(n: int) -> bytes:
    return b"\x11" + u32(n)


def p_receive_maximum(n: int) -> bytes:
    return b"\x21" + u16(n)


def p_topic_alias_maximum(n: int) -> bytes:
    return b"\x22" + u16(n)


def p_topic_alias(n: int) -> bytes:
    return b"\x23" + u16(n)


def p_maximum_packet_size(n: int) -> bytes:
    return b"\x27" + u32(n)


def p_message_expiry(n: int) -> bytes:
    return b"\x02" + u32(n)


def p_will_delay(n: int) -> bytes:
    return b"\x18" + u32(n)


def p_subscription_id(n: int) -> bytes:
    return b"\x0b" + vbi(n)


def p_user_property(k: str, v: str) -> bytes:
    return b"\x26" + string(k) + string(v)


def connect(
    client_id: str,
    *,
    version: int = 5,
    clean: bool = True,
    keep_alive: int = 60,
    properties: bytes | None = None,
    will_topic: str | None = None,
    will_payload: bytes = b"",
    will_qos: int = 0,
    will_retain: bool = False,
    will_properties: bytes | None = None,
    username: str | None = None,
    password: bytes | None = None,
) -> bytes:
    flags = 0x02 if clean else 0
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = string("MQTT") + bytes((version, flags)) + u16(keep_alive)
    if version == 5:
        body += properties if properties is not None else b"\x00"
    body += string(client_id)
    if will_topic is not None:
        if version == 5:
            body += will_properties if will_properties is not None else b"\x00"
        body += string(will_topic) + binary(will_payload)
    if username is not None:
        body += string(username)
    if password is not None:
        body += binary(password)
    return packet(0x10, body)


def publish(
    topic: str,
    payload: bytes = b"",
    *,
    qos: int = 0,
    packet_id: int = 0,
    retain: bool = False,
    dup: bool = False,
    version: int = 5,
    properties: bytes | None = None,
) -> bytes:
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = string(topic)
    if qos:
        body += u16(packet_id)
    if version == 5:
        body += properties if properties is not None else b"\x00"
    return packet(first, body + payload)


def subscribe(
    packet_id: int,
    *filters: tuple[str, int],
    version: int = 5,
    properties: bytes | None = None,
) -> bytes:
    """``filters``: (topic filter, subscription options byte)."""
    body = u16(packet_id)
    if version == 5:
        body += properties if properties is not None else b"\x00"
    for topic_filter, options in filters:
        body += string(topic_filter) + bytes((options,))
    return packet(0x82, body)


def unsubscribe(packet_id: int, *filters: str, version: int = 5) -> bytes:
    body = u16(packet_id) + (b"\x00" if version == 5 else b"")
    for topic_filter in filters:
        body += string(topic_filter)
    return packet(0xA2, body)


def ack(kind: int, packet_id: int) -> bytes:
    """PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70 with success and no properties."""
    return bytes((kind, 2)) + u16(packet_id)


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


@dataclass
class Packet:
    first: int
    body: bytes

    @property
    def type(self) -> int:
        return self.first >> 4

    @property
    def flags(self) -> int:
        return self.first & 0x0F


@dataclass
class PublishIn:
    """A PUBLISH received by a raw client, decoded by hand."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int
    properties: bytes  # raw property bytes (MQTT 5), without the length


def parse_publish(p: Packet, version: int = 5) -> PublishIn:
    assert p.type == 3, f"expected PUBLISH, got type {p.type}"
    body = p.body
    n = struct.unpack_from("!H", body)[0]
    topic = body[2 : 2 + n].decode()
    pos = 2 + n
    qos = (p.first >> 1) & 3
    packet_id = 0
    if qos:
        packet_id = struct.unpack_from("!H", body, pos)[0]
        pos += 2
    properties = b""
    if version == 5:
        length, pos = read_vbi(body, pos)
        properties = body[pos : pos + length]
        pos += length
    return PublishIn(topic, body[pos:], qos, bool(p.first & 1), bool(p.first & 8), packet_id, properties)


def read_vbi(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def property_values(raw: bytes) -> dict[int, list[object]]:
    """Decode the properties a test looks at: identifier -> values (in order)."""
    out: dict[int, list[object]] = {}
    pos = 0
    while pos < len(raw):
        ident = raw[pos]
        pos += 1
        value: object
        if ident in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):
            value = raw[pos]
            pos += 1
        elif ident in (0x13, 0x21, 0x22, 0x23):
            value = struct.unpack_from("!H", raw, pos)[0]
            pos += 2
        elif ident in (0x02, 0x11, 0x18, 0x27):
            value = struct.unpack_from("!I", raw, pos)[0]
            pos += 4
        elif ident == 0x0B:
            value, pos = read_vbi(raw, pos)
        elif ident in (0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F):
            n = struct.unpack_from("!H", raw, pos)[0]
            value = raw[pos + 2 : pos + 2 + n].decode()
            pos += 2 + n
        elif ident in (0x09, 0x16):
            n = struct.unpack_from("!H", raw, pos)[0]
            value = raw[pos + 2 : pos + 2 + n]
            pos += 2 + n
        elif ident == 0x26:
            n = struct.unpack_from("!H", raw, pos)[0]
            k = raw[pos + 2 : pos + 2 + n].decode()
            pos += 2 + n
            n = struct.unpack_from("!H", raw, pos)[0]
            v = raw[pos + 2 : pos + 2 + n].decode()
            pos += 2 + n
            value = (k, v)
        else:
            raise AssertionError(f"unknown property 0x{ident:02X}")
        out.setdefault(ident, []).append(value)
    return out


@dataclass
class ConnAckIn:
    session_present: bool
    code: int
    properties: dict[int, list[object]]


class RawClient:
    """A blocking TCP client that sends and reads raw bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1", source: str | None = None) -> None:
        """``source``: the local address to connect from (any 127.x.y.z on Linux loopback)."""
        address = (source, 0) if source is not None else None
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT, source_address=address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, n: int) -> bool:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self._buf += chunk
        return True

    def read(self, timeout: float = TIMEOUT) -> Packet | None:
        """The next packet, or ``None`` at end of stream (the broker closed the connection)."""
        self.sock.settimeout(timeout)
        try:
            if not self._fill(2):
                return None
            length = 0
            shift = 0
            i = 1
            while True:
                if not self._fill(i + 1):
                    return None
                byte = self._buf[i]
                length |= (byte & 0x7F) << shift
                i += 1
                if not byte & 0x80:
                    break
                shift += 7
            if not self._fill(i + length):
                return None
        except ConnectionResetError:
            return None
        first = self._buf[0]
        body = self._buf[i : i + length]
        self._buf = self._buf[i + length :]
        return Packet(first, body)

    def expect(self, ptype: int, timeout: float = TIMEOUT) -> Packet:
        p = self.read(timeout)
        assert p is not None, f"connection closed, expected packet type {ptype}"
        assert p.type == ptype, f"expected packet type {ptype}, got {p.type} {p.body!r}"
        return p

    def expect_publish(self, version: int = 5, timeout: float = TIMEOUT) -> PublishIn:
        return parse_publish(self.expect(3, timeout), version)

    def nothing_within(self, seconds: float) -> bool:
        """True if no packet arrives within ``seconds`` (and the connection stays open)."""
        self.sock.settimeout(seconds)
        try:
            if self._buf:
                return False
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return True
        self._buf += chunk
        return False

    def expect_closed(self, timeout: float = TIMEOUT) -> list[Packet]:
        """Read until the broker closes the connection; returns the packets read before that."""
        packets = []
        while True:
            p = self.read(timeout)
            if p is None:
                return packets
            packets.append(p)

    def connack(self, version: int = 5) -> ConnAckIn:
        p = self.expect(2)
        present = bool(p.body[0] & 1)
        code = p.body[1]
        properties: dict[int, list[object]] = {}
        if version == 5 and len(p.body) > 2:
            length, pos = read_vbi(p.body, 2)
            properties = property_values(p.body[pos : pos + length])
        return ConnAckIn(present, code, properties)

    def handshake(self, client_id: str, *, version: int = 5, **kwargs: object) -> ConnAckIn:
        self.send(connect(client_id, version=version, **kwargs))  # type: ignore[arg-type]
        result = self.connack(version)
        assert result.code == 0, f"CONNACK {result.code:#x}"
        return result

    def subscribe(self, packet_id: int, *filters: tuple[str, int], version: int = 5, **kw: bytes) -> bytes:
        """Subscribe; returns the SUBACK reason codes."""
        self.send(subscribe(packet_id, *filters, version=version, **kw))
        p = self.expect(9)
        assert p.body[:2] == u16(packet_id)
        if version == 5:
            length, pos = read_vbi(p.body, 2)
            return p.body[pos + length :]
        return p.body[2:]
