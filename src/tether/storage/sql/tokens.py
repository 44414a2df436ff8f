"""Operator token state in SQL (migration 0013): the signing key and logged-out token ids."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

from tether.storage.sql.database import Database
from tether.storage.sql.schema import metadata

platform_secrets = Table(
    "platform_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

_KEY = "operator_token_key"


class SqlOperatorTokenStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _stored_key(self) -> bytes | None:
        async with self._db.read() as conn:
            value = await conn.scalar(select(platform_secrets.c.value).where(platform_secrets.c.name == _KEY))
        return None if value is None else bytes(value)

    async def signing_key(self, candidate: bytes) -> bytes:
        stored = await self._stored_key()
        if stored is not None:
            return stored
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(platform_secrets).values(name=_KEY, value=candidate))
        except IntegrityError:  # another process stored one first: that one is the key
            stored = await self._stored_key()
            assert stored is not None
            return stored
        return candidate

    async def revoke(self, token_id: str, expires_at: int) -> None:
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(revoked_tokens).values(jti=token_id, expires_at=expires_at))
        except IntegrityError:
            pass  # logged out twice

    async def revoked(self, now: int) -> dict[str, int]:
        async with self._db.write() as conn:
            await conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at <= now))
            rows = (await conn.execute(select(revoked_tokens))).all()
        return {row.jti: row.expires_at for row in rows}
