"""Retention rules as Cumulocity's /retention API reads and shows them (the spec's retentionRule)."""

from __future__ import annotations

from typing import Any

from tether.c8y.fields import enum_value
from tether.core.errors import InvalidInput
from tether.retention.models import ANY, DataType, RetentionRule, RuleDraft

Json = dict[str, Any]
R = "retention"


def rule_url(base: str, rule_id: int) -> str:
    return f"{base}/retention/retentions/{rule_id}"


def rule(base: str, r: RetentionRule) -> Json:
    return {
        "id": str(r.id),
        "self": rule_url(base, r.id),
        "dataType": r.data_type.value,
        "type": r.type,
        "source": r.source,
        "fragmentType": r.fragment_type,
        "maximumAge": r.maximum_age,
        "editable": r.editable,
    }


def _text(document: Json, key: str, default: str) -> str:
    value = document.get(key, default)
    if value is None:
        return ANY
    if isinstance(value, int) and not isinstance(value, bool) and key == "source":
        value = str(value)  # a managed object id given as a number
    if not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a text", resource=R)
    return value


def draft(document: Json, current: RetentionRule | None = None) -> RuleDraft:
    """A POSTed rule (maximumAge required; dataType, type, source, fragmentType default to `*`), or a PUT's
    fields over the `current` rule."""
    data_type = document.get("dataType", ANY if current is None else current.data_type.value)
    age = document.get("maximumAge", None if current is None else current.maximum_age)
    if not isinstance(age, int) or isinstance(age, bool):
        raise InvalidInput("'maximumAge' must be a whole number of days", resource=R)
    editable = document.get("editable", True if current is None else current.editable)
    if not isinstance(editable, bool):
        raise InvalidInput("'editable' must be true or false", resource=R)
    return RuleDraft(
        data_type=enum_value(data_type, DataType, "dataType", resource=R),
        maximum_age=age,
        type=_text(document, "type", ANY if current is None else current.type),
        source=_text(document, "source", ANY if current is None else current.source),
        fragment_type=_text(document, "fragmentType", ANY if current is None else current.fragment_type),
        editable=editable,
    )
