"""The PostgreSQL sink (EMQX's `pgsql`): the action's SQL as a prepared statement with one parameter per
`${var}` ($1, $2, ...), run for a batch of outputs in one round trip (asyncpg `executemany`: the batch's
Bind/Execute messages and one Sync, so one implicit transaction, all or nothing). Each value is
converted to the type PostgreSQL infers for its parameter (text, integers, floats, booleans, json, bytea,
timestamps from milliseconds), never written into the SQL. When a batch is refused (a constraint, a value of
the wrong kind), its outputs are tried one by one so only the bad ones fail."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from tether.rules.connector_service import SinkTemplate
from tether.rules.connectors import duration_ms
from tether.rules.sink_templates import SqlTemplate
from tether.rules.values import as_number, decode, to_json, to_str

from .base import Outcome, SinkUnavailable, host_port, reason_of
from .tls import client_context

__all__ = ["PostgresClient", "coerce"]

_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
)
_TEXT = {"text", "varchar", "bpchar", "name", "char", "citext", "uuid", "inet", "cidr", "macaddr"}
_INT = {"int2", "int4", "int8", "oid"}
_FLOAT = {"float4", "float8"}


def coerce(value: Any, type_name: str) -> Any:
    """A selected value as the Python type asyncpg wants for a parameter of `type_name`."""
    if value is None:
        return None
    if type_name in _TEXT:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else to_str(value)
    if type_name in _INT or type_name in _FLOAT or type_name == "numeric":
        number = as_number(value)
        if number is None:
            raise ValueError(f"{value!r} is not a number")
        if type_name in _INT:
            return int(number)
        return float(number) if type_name in _FLOAT else Decimal(str(number))
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise ValueError(f"{value!r} is not a boolean")
    if type_name in ("json", "jsonb"):  # a text that is JSON (a payload) is that document
        if isinstance(value, (str, bytes)) and decode(value) is not None:
            return value.decode() if isinstance(value, bytes) else value
        return to_json(value)
    if type_name == "bytea":
        return value if isinstance(value, bytes) else to_str(value).encode()
    if type_name in ("timestamp", "timestamptz"):
        number = as_number(value)
        if number is not None:  # milliseconds since the epoch, as EMQX's timestamps are
            moment = dt.datetime.fromtimestamp(number / 1000, dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(to_str(value).replace("Z", "+00:00"))
        return moment.replace(tzinfo=None) if type_name == "timestamp" else moment
    return to_str(value)


_EXACT: dict[str, type] = {
    **dict.fromkeys(_TEXT, str),
    **dict.fromkeys(_INT, int),
    "float8": float,
    "bool": bool,
}


def _coercer(type_name: str) -> Any:
    """`coerce` for one parameter's type, with the value already of the wanted type passed through."""
    exact = _EXACT.get(type_name)

    def convert(value: Any) -> Any:
        if type(value) is exact or value is None:
            return value
        return coerce(value, type_name)

    return convert


class PostgresClient:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._pool: asyncpg.Pool | None = None
        self._types: dict[str, list[Any]] = {}  # the statement's parameter converters

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            c = self.config
            host, port = host_port(c["server"], 5432)
            timeout = (duration_ms(c["connect_timeout"], "connect_timeout", "connectors") or 15_000) / 1000
            try:
                self._pool = await asyncpg.create_pool(
                    host=host,
                    port=port,
                    user=c["username"] or None,
                    password=c["password"] or None,
                    database=c["database"],
                    min_size=0,
                    max_size=max(1, c["pool_size"]),
                    timeout=timeout,
                    statement_cache_size=100,
                    ssl=client_context(c) or False,
                    reset=_no_reset,
                )
            except _UNAVAILABLE as exc:
                raise SinkUnavailable(reason_of(exc)) from None
        return self._pool

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    async def check(self) -> None:
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except _UNAVAILABLE as exc:
            await self._drop_pool()
            raise SinkUnavailable(reason_of(exc)) from None

    async def send(self, template: SinkTemplate, outputs: Sequence[dict[str, Any]]) -> list[Outcome]:
        assert isinstance(template, SqlTemplate)
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                types = self._types.get(template.text)
                if types is None:
                    statement = await conn.prepare(template.text)
                    types = [_coercer(t.name) for t in statement.get_parameters()]
                    self._types[template.text] = types
                rows: list[tuple[Any, ...] | str] = []
                for output in outputs:
                    try:
                        values = template.values(output)
                        rows.append(tuple(c(v) for c, v in zip(types, values, strict=True)))
                    except Exception as exc:
                        rows.append(f"cannot convert the parameters: {reason_of(exc)}")
                good = [r for r in rows if not isinstance(r, str)]
                try:
                    await conn.executemany(template.text, good)
                except _UNAVAILABLE:
                    raise
                except asyncpg.PostgresError:
                    return [r if isinstance(r, str) else await _one(conn, template.text, r) for r in rows]
                return [r if isinstance(r, str) else None for r in rows]
        except _UNAVAILABLE as exc:
            await self._drop_pool()
            raise SinkUnavailable(reason_of(exc)) from None
        except asyncpg.PostgresError as exc:  # the statement itself (a missing table, a syntax error)
            self._types.pop(template.text, None)
            return [reason_of(exc)] * len(outputs)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except (TimeoutError, *_UNAVAILABLE):
                pool.terminate()


async def _no_reset(conn: asyncpg.Connection) -> None:
    """A connection back to the pool is left as it is: it only ever runs the actions' statements (each batch
    its own implicit transaction), so asyncpg's reset query (`RESET ALL`, `UNLISTEN *`, ...: a round trip
    per batch) has nothing to undo. An open transaction is still rolled back by the pool."""


async def _one(conn: asyncpg.Connection, sql: str, row: tuple[Any, ...]) -> Outcome:
    try:
        await conn.execute(sql, *row)
    except _UNAVAILABLE:
        raise
    except asyncpg.PostgresError as exc:
        return reason_of(exc)
    return None
