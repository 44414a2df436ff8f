"""File uploads, streamed: a raw body (the file itself, its Content-Type kept) or multipart/form-data with a
`file` part and an optional `object` part (JSON: name, type, contentType), as Cumulocity and c8y-api send
them (RFC 7578).

The body is read with request.stream() and handed on chunk by chunk to the BinaryStore; the `object` part
may come before or after the file, so the file is staged first and named afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from tether.binaries.service import DEFAULT_TYPE, BinaryService
from tether.binaries.store import Staged
from tether.core.errors import BadRequest, InvalidInput, PayloadTooLarge
from tether.tenants.models import Principal

#: The largest `object` part (the file's description).
MAX_OBJECT_PART = 64 * 1024


@dataclass
class Upload:
    staged: Staged
    content_type: str  # of the file: the object's contentType, else the file part's Content-Type, else ...
    name: str | None  # the object's name, else the file part's (or the raw body's) filename
    type: str  # of the managed object: the object's type, else the content type


@dataclass
class _Parts:
    """What the multipart callbacks have seen so far."""

    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    current: str = ""  # name of the part being read
    file_seen: bool = False
    file_type: str | None = None
    filename: str | None = None
    out: list[bytes] = field(default_factory=list)  # file bytes not handed on yet
    object_part: bytearray = field(default_factory=bytearray)
    ended: bool = False


async def receive_upload(
    request: Request, binaries: BinaryService, who: Principal, *, resource: str
) -> Upload:
    limit = binaries.limit
    declared = request.headers.get("content-length", "")
    mime, options = parse_options_header(request.headers.get("content-type"))
    multipart = mime == b"multipart/form-data"
    # A raw body is the file; a multipart body may be a little larger than its file (boundaries, object).
    if declared.isdigit() and int(declared) > limit + (MAX_OBJECT_PART + 4096 if multipart else 0):
        raise PayloadTooLarge(f"The file exceeds the limit of {limit} bytes", resource=resource)
    if not multipart:
        disposition = parse_options_header(request.headers.get("content-disposition"))[1]
        staged = await binaries.receive(who, request.stream(), resource=resource)
        content_type = mime.decode("latin-1") or DEFAULT_TYPE
        return Upload(staged, content_type, _text(disposition.get(b"filename")), content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("A multipart body needs a boundary", resource=resource)
    parts = _Parts()
    parser = MultipartParser(boundary, _callbacks(parts))

    async def file_chunks() -> Any:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                if len(parts.object_part) > MAX_OBJECT_PART:
                    raise PayloadTooLarge("The 'object' part is too large", resource=resource)
                if parts.out:
                    data = b"".join(parts.out)
                    parts.out.clear()
                    yield data
            parser.finalize()
        except MultipartParseError as exc:
            raise BadRequest(f"Malformed multipart body: {exc}", resource=resource) from None
        if not parts.ended:
            raise BadRequest("The multipart body ends before its closing boundary", resource=resource)

    staged = await binaries.receive(who, file_chunks(), resource=resource)
    try:
        info = _object(parts, resource)
        if not parts.file_seen:
            raise BadRequest("A multipart upload needs a 'file' part", resource=resource)
    except BaseException:
        await binaries.discard(staged)
        raise
    # Cumulocity: the managed object's type is the object's; the file's media type its own (c8y-api's
    # Binaries.create names it only in the object, as contentType, and sends the part as octet-stream).
    kind = _text(info.get("type"))
    content_type = _text(info.get("contentType")) or parts.file_type or kind or DEFAULT_TYPE
    return Upload(staged, content_type, _text(info.get("name")) or parts.filename, kind or content_type)


def _callbacks(parts: _Parts) -> Any:
    def on_header_field(data: bytes, start: int, end: int) -> None:
        parts.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        parts.header_value += data[start:end]

    def on_header_end() -> None:
        parts.headers[bytes(parts.header_field).strip().lower()] = bytes(parts.header_value).strip()
        parts.header_field.clear()
        parts.header_value.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(parts.headers.get(b"content-disposition"))
        parts.current = _text(disposition.get(b"name")) or ""
        if parts.current == "file" and not parts.file_seen:
            parts.file_seen = True
            parts.filename = _text(disposition.get(b"filename"))
            kind = parts.headers.get(b"content-type")
            parts.file_type = kind.decode("latin-1") if kind else None
        elif parts.current == "file":
            parts.current = "ignored"  # a second file part: Cumulocity keeps one file per binary
        parts.headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if parts.current == "file":
            parts.out.append(bytes(data[start:end]))
        elif parts.current == "object":
            parts.object_part += data[start:end]

    def on_part_end() -> None:
        parts.current = ""

    def on_end() -> None:
        parts.ended = True

    return {
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }


def _object(parts: _Parts, resource: str) -> dict[str, Any]:
    if not parts.object_part.strip():
        return {}
    try:
        info = orjson.loads(parts.object_part)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The 'object' part is not JSON: {exc}", resource=resource) from None
    if not isinstance(info, dict):
        raise InvalidInput("The 'object' part must be a JSON object", resource=resource)
    for key in ("name", "type", "contentType"):
        if key in info and not isinstance(info[key], str):
            raise InvalidInput(f"'{key}' of the 'object' part must be a string", resource=resource)
    return info


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None
