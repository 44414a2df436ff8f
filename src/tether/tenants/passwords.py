"""Human passwords are hashed with argon2id; verification is CPU-bound, so callers run it off the loop."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_ALPHABET = string.ascii_letters + string.digits


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 24) -> str:
    """A fresh high-entropy secret (24 chars of 62 symbols ~ 143 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
