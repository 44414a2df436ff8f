"""Password and secret hashing.

Human passwords are hashed with argon2id (slow on purpose; callers verify off the event loop). Secrets the
platform generates itself (device passwords, access keys, API-key secrets: 143 bits of entropy) cannot be
guessed, so a slow hash buys nothing and would make a connect storm CPU-bound: they are stored as a salted
SHA-256 (``sha256$<salt>$<digest>``) and compared in constant time.
:func:`verify_password` accepts both forms.

argon2 runs off the event loop through :func:`hash_slowly` and :func:`verify_slowly`: at most
:data:`MAX_CONCURRENT_HASHES` at once per event loop, so that a storm of logins queues instead of taking every
core from ingest (docs/security.md, Login throttling and password hashing), and simultaneous checks of
one password against one hash (a client retrying, many HTTP requests of one caller) share a single
computation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import string
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_ALPHABET = string.ascii_letters + string.digits
_FAST = "sha256$"
_T = TypeVar("_T")


def hash_password(password: str) -> str:
    """argon2id, for passwords people choose."""
    return _hasher.hash(password)


def hash_secret(secret: str) -> str:
    """A salted SHA-256, only for secrets from :func:`generate_password` (high entropy)."""
    salt = secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}{secret}".encode()).hexdigest()
    return f"{_FAST}{salt}${digest}"


def is_fast_hash(password_hash: str) -> bool:
    """True for a :func:`hash_secret` hash: cheap enough to verify on the event loop."""
    return password_hash.startswith(_FAST)


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against either hash form; constant time for the fast form."""
    if password_hash.startswith(_FAST):
        _, salt, digest = password_hash.split("$", 2)
        actual = hashlib.sha256(f"{salt}{password}".encode()).hexdigest()
        return hmac.compare_digest(actual, digest)
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 24) -> str:
    """A fresh high-entropy secret (24 chars of 62 symbols ~ 143 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


#: argon2 computations at once per event loop: half the cores, at least one (the rest serve the devices).
MAX_CONCURRENT_HASHES = max(1, (os.cpu_count() or 2) // 2)


@dataclass(slots=True)
class _Shared:
    """One verification in flight and how many callers wait for it."""

    task: asyncio.Future[bool]
    waiters: int = 0


class _Gate:
    """One event loop's queue for argon2 work."""

    def __init__(self, limit: int) -> None:
        self.semaphore = asyncio.Semaphore(limit)
        self.inflight: dict[bytes, _Shared] = {}  # by digest of (hash, password)


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate] = weakref.WeakKeyDictionary()


def _gate() -> _Gate:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = _Gate(MAX_CONCURRENT_HASHES)
    return gate


async def _queued(gate: _Gate, function: Callable[..., _T], *args: str) -> _T:
    async with gate.semaphore:
        return await asyncio.to_thread(function, *args)


async def hash_slowly(password: str) -> str:
    """:func:`hash_password` in a worker thread, queued behind the other argon2 work."""
    return await _queued(_gate(), hash_password, password)


async def verify_slowly(password_hash: str, password: str) -> bool:
    """:func:`verify_password`, argon2 in a worker thread, queued; simultaneous calls with the same arguments
    share one computation, which is abandoned only when every caller has gone."""
    if is_fast_hash(password_hash):
        return verify_password(password_hash, password)
    gate = _gate()
    key = hashlib.sha256(f"{password_hash}\0{password}".encode()).digest()
    shared = gate.inflight.get(key)
    if shared is None:
        task = asyncio.ensure_future(_queued(gate, verify_password, password_hash, password))
        shared = gate.inflight[key] = _Shared(task)
        task.add_done_callback(lambda _: gate.inflight.pop(key, None))
    shared.waiters += 1
    try:
        return await asyncio.shield(shared.task)
    finally:
        shared.waiters -= 1
        if shared.waiters == 0 and not shared.task.done():
            shared.task.cancel()  # every caller left (their connections closed): free the queue
