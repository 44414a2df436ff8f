"""Password and secret hashing.

Human passwords are hashed with argon2id (slow on purpose; callers verify off the event loop). Secrets the
platform generates itself (device passwords, access keys, API-key secrets: 143 bits of entropy) cannot be
guessed, so a slow hash buys nothing and would make a connect storm CPU-bound: they are stored as a salted
SHA-256 (``sha256$<salt>$<digest>``) and compared in constant time.
:func:`verify_password` accepts both forms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_ALPHABET = string.ascii_letters + string.digits
_FAST = "sha256$"


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
