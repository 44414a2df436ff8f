"""UUIDs, jq and the rest."""

from __future__ import annotations

import functools
import itertools
import uuid
from typing import Any

import jq as _jq  # type: ignore[import-not-found]

from ..errors import RuleRuntimeError
from ..values import decode
from .arguments import _text
from .registry import _MANY, _register

# ----------------------------------------------------------------------------------------------- misc


@_register("uuid_v4", 0)
def _uuid_v4() -> str:
    return str(uuid.uuid4())


@_register("uuid_v4_no_hyphen", 0)
def _uuid_v4_no_hyphen() -> str:
    return uuid.uuid4().hex


@_register("coalesce", 1, _MANY)
def _coalesce(*values: object) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


@functools.lru_cache(maxsize=256)
def _jq_program(program: str) -> Any:
    try:
        return _jq.compile(program)
    except ValueError as exc:
        raise RuleRuntimeError(f"jq: {exc}") from exc


@_register("jq", 2, 3)
def _jq_call(program: object, value: object, _timeout: object = None) -> list[Any]:
    """`jq(program, value)`: every output of the jq program (the `jq` library: jq's own C implementation);
    a string input is read as JSON. EMQX's timeout argument is accepted; programs run to completion."""
    data = decode(value) if type(value) in (str, bytes) else value
    try:
        outputs = iter(_jq_program(_text(program, "program")).input_value(data))
        results = list(itertools.islice(outputs, _MANY + 1))
        if len(results) > _MANY:
            raise RuleRuntimeError(f"jq: more than {_MANY} outputs")
        return results
    except ValueError as exc:
        raise RuleRuntimeError(f"jq: {exc}") from exc
