"""The MySQL / MariaDB sink (EMQX's `mysql`): aiomysql (asyncio over PyMySQL), the action's SQL with one `%s`
parameter per `${var}`, a batch run by `executemany` (an INSERT ... VALUES becomes one multi-row INSERT) in
one transaction; the driver escapes each value, nothing is written into the SQL. A refused batch is tried
one output at a time so only the bad ones fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiomysql
import pymysql

from tether.rules.connector_service import SinkTemplate
from tether.rules.connectors import duration_ms
from tether.rules.sink_templates import SqlTemplate
from tether.rules.values import to_json

from .base import Outcome, SinkUnavailable, host_port, reason_of
from .tls import client_context

__all__ = ["MysqlClient"]

#: PyMySQL's client errors for a lost or refused connection (CR_CONN_HOST_ERROR, CR_SERVER_GONE_ERROR,
#: CR_SERVER_LOST, ...) and the server's "too many connections", "server shutdown in progress".
_LOST = frozenset({1040, 1053, 2003, 2006, 2013, 2055})


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, TimeoutError, pymysql.err.InterfaceError)):
        return True
    return isinstance(exc, pymysql.err.OperationalError) and bool(exc.args) and exc.args[0] in _LOST


def _param(value: Any) -> Any:
    return to_json(value) if isinstance(value, (dict, list)) else value


class MysqlClient:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._pool: aiomysql.Pool | None = None

    async def _get_pool(self) -> aiomysql.Pool:
        if self._pool is None:
            c = self.config
            host, port = host_port(c["server"], 3306)
            timeout = (duration_ms(c["connect_timeout"], "connect_timeout", "connectors") or 15_000) / 1000
            try:
                self._pool = await aiomysql.create_pool(
                    host=host,
                    port=port,
                    user=c["username"],
                    password=c["password"],
                    db=c["database"],
                    minsize=1,
                    maxsize=max(1, c["pool_size"]),
                    autocommit=False,
                    connect_timeout=timeout,
                    charset="utf8mb4",
                    ssl=client_context(c),
                )
            except Exception as exc:
                if _unavailable(exc) or isinstance(exc, pymysql.err.OperationalError):
                    raise SinkUnavailable(reason_of(exc)) from None
                raise
        return self._pool

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    async def check(self) -> None:
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn, conn.cursor() as cursor:
                await cursor.execute("SELECT 1")
        except Exception as exc:
            if not _unavailable(exc):
                raise
            await self._drop_pool()
            raise SinkUnavailable(reason_of(exc)) from None

    async def send(self, template: SinkTemplate, outputs: Sequence[dict[str, Any]]) -> list[Outcome]:
        assert isinstance(template, SqlTemplate)
        pool = await self._get_pool()
        rows = [tuple(_param(v) for v in template.values(o)) for o in outputs]
        try:
            async with pool.acquire() as conn, conn.cursor() as cursor:
                try:
                    await cursor.executemany(template.text, rows)
                    await conn.commit()
                    return [None] * len(rows)
                except pymysql.err.MySQLError as exc:
                    if _unavailable(exc):
                        raise
                    await conn.rollback()
                outcomes: list[Outcome] = []
                for row in rows:
                    try:
                        await cursor.execute(template.text, row)
                        await conn.commit()
                        outcomes.append(None)
                    except pymysql.err.MySQLError as exc:
                        if _unavailable(exc):
                            raise SinkUnavailable(reason_of(exc), outcomes) from None
                        await conn.rollback()
                        outcomes.append(reason_of(exc))
                return outcomes
        except SinkUnavailable:
            await self._drop_pool()
            raise
        except Exception as exc:
            if not _unavailable(exc):
                raise
            await self._drop_pool()
            raise SinkUnavailable(reason_of(exc)) from None

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            await pool.wait_closed()
