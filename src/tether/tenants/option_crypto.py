"""Encryption of secret tenant options (`credentials.` keys) at rest: AES-256-GCM (`cryptography`), a
random 96-bit nonce per value, the option's tenant, category and key as associated data. The 256-bit key is
made on the first start and kept in the database among the platform secrets (`SecretStore`), as the
operator tokens' signing key is (docs/security.md)."""

from __future__ import annotations

import base64
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_NAME = "tenant_option_key"
_VERSION = "v1:"


class SecretStore(Protocol):
    async def secret(self, name: str, candidate: bytes) -> bytes:
        """The stored secret `name`; `candidate` is stored and returned when there is none yet (the first of
        several servers to store one wins)."""
        ...


class OptionCipher:
    def __init__(self) -> None:
        self._aead: AESGCM | None = None

    async def load(self, secrets: SecretStore) -> None:
        self._aead = AESGCM(await secrets.secret(KEY_NAME, AESGCM.generate_key(bit_length=256)))

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            raise RuntimeError("the option key is not loaded (OptionCipher.load)")
        return self._aead

    def encrypt(self, text: str, context: bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher().encrypt(nonce, text.encode(), context)
        return _VERSION + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str, context: bytes) -> str | None:
        """The clear text, or None when it does not decrypt (another key, or moved to another row)."""
        if not stored.startswith(_VERSION):
            return None
        raw = base64.b64decode(stored[len(_VERSION) :])
        try:
            return self._cipher().decrypt(raw[:12], raw[12:], context).decode()
        except (InvalidTag, ValueError):
            return None
