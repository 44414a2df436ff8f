"""Hashes (md5, sha*) and codecs (base64, gzip, zip, json, ...)."""

from __future__ import annotations

import base64
import binascii
import gzip as _gzip
import hashlib
import zlib
from typing import Any

import orjson

from ..errors import RuleRuntimeError
from ..values import to_json
from .arguments import _binary_result, _data
from .registry import MAX_SIZE, _register

# ----------------------------------------------------------------------------------------------- hashes


@_register("md5", 1)
def _md5(x: object) -> str:
    return hashlib.md5(_data(x), usedforsecurity=False).hexdigest()


@_register("sha", 1)
def _sha(x: object) -> str:
    return hashlib.sha1(_data(x), usedforsecurity=False).hexdigest()


@_register("sha256", 1)
def _sha256(x: object) -> str:
    return hashlib.sha256(_data(x)).hexdigest()


# ----------------------------------------------------------------------------------------------- codecs


@_register("base64_encode", 1)
def _base64_encode(x: object) -> str:
    return base64.b64encode(_data(x)).decode()


@_register("base64_decode", 1)
def _base64_decode(x: object) -> str | bytes:
    try:
        return _binary_result(base64.b64decode(_data(x), validate=True))
    except binascii.Error as exc:
        raise RuleRuntimeError(f"base64_decode: {exc}") from exc


@_register("json_encode", 1)
def _json_encode(x: object) -> str:
    return to_json(x)


@_register("json_decode", 1)
def _json_decode(x: object) -> Any:
    try:
        return orjson.loads(_data(x))
    except orjson.JSONDecodeError as exc:
        raise RuleRuntimeError(f"json_decode: {exc}") from exc


def _inflate(data: bytes, wbits: int, name: str) -> str | bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, MAX_SIZE + 1)
    except zlib.error as exc:
        raise RuleRuntimeError(f"{name}: {exc}") from exc
    if len(out) > MAX_SIZE:
        raise RuleRuntimeError(f"{name}: result too large")
    return _binary_result(out)


@_register("gzip", 1)
def _gzip_(x: object) -> bytes:
    return _gzip.compress(_data(x), mtime=0)


@_register("gunzip", 1)
def _gunzip(x: object) -> str | bytes:
    return _inflate(_data(x), 16 + zlib.MAX_WBITS, "gunzip")


@_register("zip", 1)
def _zip(x: object) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(_data(x)) + compressor.flush()


@_register("unzip", 1)
def _unzip(x: object) -> str | bytes:
    return _inflate(_data(x), -zlib.MAX_WBITS, "unzip")


@_register("zip_compress", 1)
def _zip_compress(x: object) -> bytes:
    return zlib.compress(_data(x))


@_register("zip_uncompress", 1)
def _zip_uncompress(x: object) -> str | bytes:
    return _inflate(_data(x), zlib.MAX_WBITS, "zip_uncompress")
