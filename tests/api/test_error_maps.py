"""Every protocol family answers every domain error from its own table (core/errors.py ErrorMap): a class
has an entry of its own or of a base class other than DomainError, or is (a subclass of) one of the
family's documented fallbacks below, answered by the table's DomainError entry. A new error class fails
here until each family decides how to report it."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

import tether
from tether.adapters import c8y_json, fleets_jobs
from tether.adapters import fleets as fleets_mqtt
from tether.adapters import xyte as xyte_mqtt
from tether.adapters.smartrest import errors as smartrest
from tether.api import errors as c8y
from tether.api.emqx import errors as emqx
from tether.api.fleets import errors as fleets
from tether.api.http import PayloadTooLarge, UnsupportedMediaType
from tether.api.xyte import errors as xyte
from tether.core import errors
from tether.core.errors import DomainError, ErrorMap
from tether.mqtt.reason_codes import ReasonCode
from tether.operations.models import InvalidTransition

# The error classes of HTTP bodies only, which no MQTT family meets, and the caller and throttling errors
# that arise at login (HTTP) rather than in a message: MQTT refuses those at CONNECT with its own codes.
_HTTP_ONLY = {PayloadTooLarge, UnsupportedMediaType, errors.Unauthorized, errors.TooManyRequests}

#: family -> (table, classes answered by its DomainError entry on purpose)
FAMILIES: dict[str, tuple[ErrorMap[Any], set[type[DomainError]]]] = {
    # EmqxError is raised only under /api/v5, whose app answers it with its own status and code.
    "c8y": (c8y.STATUS, {emqx.EmqxError}),
    "emqx": (emqx.CODES, {emqx.EmqxError}),
    "xyte": (xyte.STATUS, {emqx.EmqxError}),
    "fleets": (fleets.CODES, {emqx.EmqxError}),
    # Shadow rejections: AWS's 400, 404, 409, and 500 for what is not about the request.
    "fleets_shadow": (
        fleets_mqtt.CODES,
        {errors.BadRequest, errors.Forbidden, errors.ServiceUnavailable, *_HTTP_ONLY, emqx.EmqxError},
    ),
    # Command answers and events: 0x99 for the payload, 0x83 for everything else.
    "fleets_answer": (
        fleets_mqtt.ANSWER_REASONS,
        {
            errors.Conflict,
            errors.Forbidden,
            errors.NotFound,
            errors.ServiceUnavailable,
            *_HTTP_ONLY,
            emqx.EmqxError,
        },
    ),
    # Job requests: AWS's ErrorCode; InternalError for what is not about the request.
    "fleets_jobs": (
        fleets_jobs.JOB_CODES,
        {
            errors.Conflict,
            errors.Forbidden,
            errors.ServiceUnavailable,
            PayloadTooLarge,
            UnsupportedMediaType,
            errors.Unauthorized,
            emqx.EmqxError,
        },
    ),
    # s/e: 45 for every argument problem.
    "smartrest": (smartrest.CODES, {errors.BadRequest, errors.InvalidInput, *_HTTP_ONLY, emqx.EmqxError}),
    # error topic: the error's own kind.
    "c8y_json": (c8y_json.ANSWERS, {errors.Conflict, errors.ServiceUnavailable, *_HTTP_ONLY, emqx.EmqxError}),
    # Xyte over MQTT: 0x83 for whatever is not about the payload's content.
    "xyte_mqtt": (
        xyte_mqtt.REASONS,
        {
            errors.BadRequest,
            errors.Conflict,
            errors.Forbidden,
            errors.ServiceUnavailable,
            *_HTTP_ONLY,
            emqx.EmqxError,
        },
    ),
}


def _all_error_classes() -> set[type[DomainError]]:
    for module in pkgutil.walk_packages(tether.__path__, "tether."):
        importlib.import_module(module.name)
    found: set[type[DomainError]] = set()
    pending = list(DomainError.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def _own_entry(table: ErrorMap[Any], cls: type[DomainError]) -> type[DomainError] | None:
    """The class whose entry answers `cls`, unless that is the fallback."""
    return next((base for base in cls.__mro__ if base in table.table and base is not DomainError), None)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_error_has_an_entry_or_a_documented_fallback(family: str) -> None:
    table, fallbacks = FAMILIES[family]
    assert DomainError in table.table
    classes = _all_error_classes()
    assert {InvalidTransition, emqx.EmqxError, PayloadTooLarge} <= classes
    missing = {
        cls.__qualname__
        for cls in classes
        if _own_entry(table, cls) is None and not any(base in fallbacks for base in cls.__mro__)
    }
    assert not missing, f"{family}: no entry and no documented fallback for {sorted(missing)}"
    stale = {cls.__qualname__ for cls in fallbacks if _own_entry(table, cls) is not None}
    assert not stale, f"{family}: listed as fallback but has an entry: {sorted(stale)}"


def test_subclasses_answer_as_their_nearest_base() -> None:
    transition = InvalidTransition("no")
    assert c8y.STATUS(transition) == 422 and xyte.STATUS(transition) == 422
    assert emqx.CODES(transition) == (400, "BAD_REQUEST")
    assert smartrest.CODES(transition) is smartrest.Code.INVALID_ARGUMENTS
    assert c8y_json.ANSWERS(transition).reason is ReasonCode.PAYLOAD_FORMAT_INVALID
    # Xyte over MQTT: a command update that cannot make the transition is well-formed, unlike bad content.
    assert xyte_mqtt.REASONS(transition) is ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR
    assert xyte_mqtt.REASONS(errors.InvalidInput("bad")) is ReasonCode.PAYLOAD_FORMAT_INVALID


def test_fallback_answers() -> None:
    error = DomainError("odd")
    assert (c8y.STATUS(error), xyte.STATUS(error), emqx.CODES(error)) == (400, 400, (400, "BAD_REQUEST"))
    assert smartrest.CODES(error) is smartrest.Code.INVALID_ARGUMENTS
    assert c8y_json.ANSWERS(error) == c8y_json.JsonAnswer(None, ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR)
    assert xyte_mqtt.REASONS(error) is ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR


def test_http_statuses_have_a_xyte_code() -> None:
    assert set(xyte.STATUS.table.values()) <= set(xyte.CODES)


def test_a_table_needs_its_fallback() -> None:
    with pytest.raises(ValueError, match="DomainError"):
        ErrorMap({errors.NotFound: 404})
