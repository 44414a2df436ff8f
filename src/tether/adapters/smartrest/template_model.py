"""SmartREST 2.0 template collections: request templates (10) and response templates (11), parsed from
their CSV rows, kept as a JSON document, and response templates applied to an object (Cumulocity's
smartrest-two "Request templates", "Response templates").

Request: `10,<msgId>,<method>,<api>,<response>,<mandatory values...>,<path>,<type>,<value>,...` where the
mandatory values depend on the method and API (below). Response: `11,<msgId>,<base>,<condition>,<pattern>...`;
paths are JSON paths (`a.b`, `list[*].c`, `list[0]`, an optional `$.` prefix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from tether.adapters.smartrest.csv import MalformedCsv, encode_row
from tether.adapters.smartrest.errors import Code, SmartRestError, invalid

__all__ = ["ENUMS", "Collection", "Custom", "Request", "Response", "parse_collection", "respond", "set_path"]

#: How many mandatory values each supported (method, API) takes, and the defaults of the trailing ones.
MANDATORY: dict[tuple[str, str], int] = {
    ("GET", "INVENTORY"): 2,  # byId, externalIdType
    ("POST", "INVENTORY"): 1,  # externalIdType
    ("PUT", "INVENTORY"): 2,  # byId, externalIdType
    ("POST", "MEASUREMENT"): 2,  # type, time
    ("POST", "EVENT"): 3,  # type, text, time
    ("POST", "ALARM"): 5,  # type, text, status, severity, time
    ("PUT", "ALARM"): 1,  # type
    ("PUT", "OPERATION"): 1,  # fragment
}
TYPES = frozenset(
    {"STRING", "DATE", "NUMBER", "INTEGER", "UNSIGNED", "FLAG", "SEVERITY", "ALARMSTATUS", "OPERATIONSTATUS"}
)
ENUMS: dict[str, tuple[str, ...]] = {
    "SEVERITY": ("CRITICAL", "MAJOR", "MINOR", "WARNING"),
    "ALARMSTATUS": ("ACTIVE", "ACKNOWLEDGED", "CLEARED"),
    "OPERATIONSTATUS": ("PENDING", "EXECUTING", "SUCCESSFUL", "FAILED"),
}


@dataclass(frozen=True, slots=True)
class Custom:
    path: str
    type: str
    value: str  # empty: the client sends it


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    method: str
    api: str
    response: bool
    mandatory: list[str]
    customs: list[Custom]


@dataclass(frozen=True, slots=True)
class Response:
    id: str
    base: str
    condition: str
    patterns: list[str]


@dataclass
class Collection:
    id: int = 0
    requests: dict[str, Request] = field(default_factory=dict)
    responses: list[Response] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.requests) + len(self.responses)

    def to_document(self) -> dict[str, Any]:
        return {
            "requests": [
                {
                    "id": r.id,
                    "method": r.method,
                    "api": r.api,
                    "response": r.response,
                    "mandatory": r.mandatory,
                    "customs": [[c.path, c.type, c.value] for c in r.customs],
                }
                for r in self.requests.values()
            ],
            "responses": [
                {"id": r.id, "base": r.base, "condition": r.condition, "patterns": r.patterns}
                for r in self.responses
            ],
        }

    @classmethod
    def from_document(cls, collection_id: int, document: dict[str, Any]) -> Collection:
        requests = {
            r["id"]: Request(
                r["id"],
                r["method"],
                r["api"],
                r["response"],
                list(r["mandatory"]),
                [Custom(*c) for c in r["customs"]],
            )
            for r in document.get("requests", [])
        }
        responses = [
            Response(r["id"], r["base"], r["condition"], list(r["patterns"]))
            for r in document.get("responses", [])
        ]
        return cls(collection_id, requests, responses)


def parse_collection(rows: list[tuple[list[str], MalformedCsv | None]]) -> Collection:
    """Every row must be a valid 10 or 11 template with a message id unique in the collection."""
    collection = Collection()
    seen: set[str] = set()
    for row, problem in rows:
        kind = row[0]
        if problem is not None:
            raise SmartRestError(Code.MALFORMED, f"Malformed template line: {problem}", kind)
        if len(row) < 2 or not row[1]:
            raise invalid("A template needs a message id", kind)
        msg_id = row[1]
        if msg_id in seen:
            raise SmartRestError(Code.CREATION_ERROR, f"Message id {msg_id} is defined twice", msg_id)
        seen.add(msg_id)
        if kind == "10":
            request = _request(row)
            collection.requests[msg_id] = request
        elif kind == "11":
            if len(row) < 5 or not any(row[4:]):
                raise invalid("A response template needs at least one pattern", msg_id)
            collection.responses.append(Response(msg_id, row[2], row[3], [p for p in row[4:] if p]))
        else:
            raise SmartRestError(Code.UNKNOWN_TEMPLATE, "Templates are 10 (request) or 11 (response)", kind)
    if not collection:
        raise invalid("No templates", "")
    return collection


def _request(row: list[str]) -> Request:
    msg_id = row[1]
    padded = row + [""] * max(0, 5 - len(row))
    method, api, response = padded[2].upper(), padded[3].upper(), padded[4].lower()
    count = MANDATORY.get((method, api))
    if count is None:
        raise invalid(f"Unsupported method and API: {method} {api}", msg_id)
    if response not in ("", "true", "false"):
        raise invalid(f"'response' must be true or false (got {response!r})", msg_id)
    rest = row[5:]
    mandatory = (rest[:count] + [""] * count)[:count]
    customs_raw = rest[count:]
    if method == "GET" and any(customs_raw):
        raise invalid("GET templates take no custom values", msg_id)
    customs = []
    padded_customs = customs_raw + [""] * (-len(customs_raw) % 3)
    for i in range(0, len(padded_customs), 3):
        path, type_, value = padded_customs[i : i + 3]
        if not path:
            if type_ or value:
                raise invalid("A custom value needs a path", msg_id)
            continue
        type_ = (type_ or "STRING").upper()
        if type_ not in TYPES:
            raise invalid(f"Unknown custom value type {type_!r}", msg_id)
        customs.append(Custom(path, type_, value))
    if (method, api) == ("POST", "ALARM") and mandatory[3] and mandatory[3].upper() not in ENUMS["SEVERITY"]:
        raise invalid(f"Unknown severity {mandatory[3]!r}", msg_id)
    return Request(msg_id, method, api, response == "true", mandatory, customs)


# -- JSON paths -------------------------------------------------------------------------------------


_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def _steps(path: str) -> list[str]:
    """`$.a.b[*].c` -> ["a", "b", "[*]", "c"]."""
    if path.startswith("$"):
        path = path[1:]
    return [name if name else f"[{index}]" for name, index in _TOKEN.findall(path)]


def _select(values: list[Any], step: str) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if step.startswith("["):
            if not isinstance(value, list):
                continue
            index = step[1:-1]
            if index == "*":
                out.extend(value)
            elif index.isdigit() and int(index) < len(value):
                out.append(value[int(index)])
        elif isinstance(value, dict) and step in value:
            out.append(value[step])
    return out


def find(document: Any, path: str) -> list[Any]:
    values = [document]
    for step in _steps(path):
        values = _select(values, step)
    return values


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    steps = [s for s in _steps(path) if not s.startswith("[")]
    if not steps:
        return
    node = document
    for step in steps[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            child = node[step] = {}
        node = child
    node[steps[-1]] = value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def respond(responses: list[Response], document: dict[str, Any], xid: str | None) -> list[str]:
    """The lines of every response template whose condition holds for `document`; an unresolved pattern is
    an empty field. With `xid` (operations) the device's external id follows the message id."""
    lines = []
    for response in responses:
        if response.condition and not find(document, response.condition):
            continue
        bases = find(document, response.base) if response.base else [document]
        base = bases[0] if bases else None
        fields: list[str] = [response.id] if xid is None else [response.id, xid]
        for pattern in response.patterns:
            found = find(base, pattern) if base is not None else []
            fields.extend(_text(v) for v in found) if found else fields.append("")
        lines.append(encode_row(fields))
    return lines
