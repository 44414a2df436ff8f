"""Things, thing types and thing groups of EMQX Fleets, as managed objects of the one inventory
(docs/architecture.md section 1; docs/protocols.md section 10).

* A thing IS a device's managed object: the fragment `fleets_Thing` {id, name, clientId, thingType,
  attributes} on it, and external ids that make its names unique in the tenant and findable:
  `fleets_thingName` (the `{thingName}` of every topic), `fleets_thingId` (the UUID of API paths) and
  `fleets_clientId` (its MQTT client id, which may differ from the name). Any device becomes a thing by
  getting a name; a thing made from nothing is a new device owned by the device user `device_<clientId>`,
  with its client id as its serial (`c8y_Serial`), as a Cumulocity device of that user would have.
* A thing type is a managed object with `fleets_ThingType` (properties, events, commands) and external ids
  `fleets_thingTypeName` / `fleets_thingTypeId`.
* A thing group is a Cumulocity device group (`c8y_IsDeviceGroup`, type `c8y_DeviceGroup`) with
  `fleets_ThingGroup` and external ids `fleets_thingGroupName` / `fleets_thingGroupId`; its things are its
  childAssets, as Cumulocity's group members are. Creating a type creates the group "<type> (default)",
  which every thing of the type joins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from tether.core.errors import InvalidInput

Json = dict[str, Any]
R = "fleets"

THING_FRAGMENT: Final = "fleets_Thing"
TYPE_FRAGMENT: Final = "fleets_ThingType"
GROUP_FRAGMENT: Final = "fleets_ThingGroup"
THING_NAME: Final = "fleets_thingName"
THING_ID: Final = "fleets_thingId"
CLIENT_ID: Final = "fleets_clientId"
TYPE_NAME: Final = "fleets_thingTypeName"
TYPE_ID: Final = "fleets_thingTypeId"
GROUP_NAME: Final = "fleets_thingGroupName"
GROUP_ID: Final = "fleets_thingGroupId"
TYPE_MO_TYPE: Final = "fleets_ThingType"
GROUP_MO_TYPE: Final = "c8y_DeviceGroup"
#: The owner of a thing made from nothing, and the user name of the device credential issued for it.
DEVICE_USER_PREFIX: Final = "device_"

#: AWS IoT's thing name alphabet ([a-zA-Z0-9:_-], 1..128): safe in a topic level (no `/`, `+`, `#`).
_NAME = re.compile(r"[A-Za-z0-9:_-]{1,128}")
#: A client id that is also a valid device serial (no `:` or `/`: Cumulocity's ClientId syntax uses them).
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_GROUP_NAME_MAX = 128


def thing_name(value: Any, field_name: str = "name") -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"'{field_name}' must be 1 to 128 characters of letters, digits, ':', '_' and '-'", resource=R
        )
    return value


def client_id(value: Any) -> str:
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise InvalidInput(
            "'clientId' must be 1 to 128 characters of letters, digits, '.', '_' and '-'", resource=R
        )
    return value


def group_name(value: Any) -> str:
    """Group names may hold spaces and parentheses ("<type> (default)"), never control characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > _GROUP_NAME_MAX:
        raise InvalidInput(f"'name' must be 1 to {_GROUP_NAME_MAX} characters", resource=R)
    if not value.isprintable():
        raise InvalidInput("'name' must not contain control characters", resource=R)
    return value


def default_group(type_name: str) -> str:
    return f"{type_name} (default)"


class PropertyType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOLEAN = "boolean"
    ENUM = "enum"


@dataclass(frozen=True, slots=True)
class Thing:
    id: str  # a UUID
    tenant_id: str
    mo_id: int
    name: str
    client_id: str
    owner: str
    thing_type: str | None = None
    attributes: Json = field(default_factory=dict)
    creation_time: int = 0
    last_updated: int = 0

    def fragment(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "clientId": self.client_id,
            "thingType": self.thing_type,
            "attributes": self.attributes,
        }


@dataclass(frozen=True, slots=True)
class ThingType:
    id: str
    tenant_id: str
    mo_id: int
    name: str
    description: str | None
    properties: list[Json]
    events: list[Json]
    commands: list[Json]
    creation_time: int = 0


@dataclass(frozen=True, slots=True)
class ThingGroup:
    id: str
    tenant_id: str
    mo_id: int
    name: str
    description: str | None
    creation_time: int = 0


@dataclass(frozen=True, slots=True)
class ThingDraft:
    """POST /api/v1/things, checked. `device_id`: an existing device (any family's) to make a thing."""

    name: str
    client_id: str | None = None
    thing_type: str | None = None
    groups: tuple[str, ...] = ()
    attributes: Json = field(default_factory=dict)
    device_id: int | None = None


@dataclass(frozen=True, slots=True)
class ThingChange:
    """PUT /api/v1/things/{id}: each field given (not None) replaces the stored one."""

    name: str | None = None
    thing_type: str | None = None
    clear_type: bool = False
    groups: tuple[str, ...] | None = None
    attributes: Json | None = None


@dataclass(frozen=True, slots=True)
class TypeDraft:
    name: str
    description: str | None
    properties: list[Json]
    events: list[Json]
    commands: list[Json]


@dataclass(frozen=True, slots=True)
class ThingFilter:
    """Filters of GET /api/v1/things; all given must hold. `name`: `*` is a wildcard."""

    name: str | None = None
    thing_type: str | None = None
    group: str | None = None
    status: str | None = None  # online | offline


def _text(document: Mapping[str, Any], key: str, max_length: int = 1024) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
        raise InvalidInput(f"'{key}' must be a string of at most {max_length} characters", resource=R)
    return value


def _object(document: Mapping[str, Any], key: str) -> Json | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"'{key}' must be a JSON object", resource=R)
    return value


def _names(document: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 100:
        raise InvalidInput(f"'{key}' must be a list of at most 100 names", resource=R)
    return tuple(dict.fromkeys(group_name(item) for item in value))


def parse_thing(document: Mapping[str, Any]) -> ThingDraft:
    device = document.get("deviceId")
    device_id: int | None = None
    if device is not None:
        text = str(device) if isinstance(device, int | str) and not isinstance(device, bool) else ""
        if not text.isdigit() or len(text) > 18:
            raise InvalidInput("'deviceId' must be the id of a managed object", resource=R)
        device_id = int(text)
    raw_client = document.get("clientId")
    raw_type = document.get("thingType")
    return ThingDraft(
        name=thing_name(document.get("name")),
        client_id=None if raw_client is None else client_id(raw_client),
        thing_type=None if raw_type is None else thing_name(raw_type, "thingType"),
        groups=_names(document, "groups") or (),
        attributes=_object(document, "attributes") or {},
        device_id=device_id,
    )


def parse_thing_change(document: Mapping[str, Any]) -> ThingChange:
    for fixed in ("clientId", "id", "deviceId"):
        if fixed in document:
            raise InvalidInput(f"'{fixed}' cannot be changed", resource=R)
    raw_name = document.get("name")
    clear_type = "thingType" in document and document["thingType"] is None
    raw_type = document.get("thingType")
    return ThingChange(
        name=None if raw_name is None else thing_name(raw_name),
        thing_type=None if raw_type is None else thing_name(raw_type, "thingType"),
        clear_type=clear_type,
        groups=_names(document, "groups"),
        attributes=_object(document, "attributes"),
    )


def _declarations(document: Mapping[str, Any], key: str) -> list[Json]:
    value = document.get(key, [])
    if not isinstance(value, list) or len(value) > 1000:
        raise InvalidInput(f"'{key}' must be a list (at most 1000 entries)", resource=R)
    seen: set[str] = set()
    out: list[Json] = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidInput(f"each of '{key}' must be a JSON object", resource=R)
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput(f"each of '{key}' needs a 'name' (letters, digits, ':', '_', '-')", resource=R)
        if name in seen:
            raise InvalidInput(f"'{key}' names '{name}' twice", resource=R)
        seen.add(name)
        out.append(dict(item))
    return out


def _property(item: Json) -> Json:
    raw = item.get("type")
    try:
        kind = PropertyType(raw) if isinstance(raw, str) else None
    except ValueError:
        kind = None
    if kind is None:
        names = ", ".join(p.value for p in PropertyType)
        raise InvalidInput(f"property '{item['name']}': 'type' must be one of {names}", resource=R)
    writable = item.get("writable", False)
    if not isinstance(writable, bool):
        raise InvalidInput(f"property '{item['name']}': 'writable' must be true or false", resource=R)
    out = {**item, "type": kind.value, "writable": writable}
    if kind is PropertyType.ENUM:
        values = item.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise InvalidInput(
                f"property '{item['name']}': an enum needs 'values', a list of strings", resource=R
            )
    return out


def parse_type(document: Mapping[str, Any]) -> TypeDraft:
    return TypeDraft(
        name=thing_name(document.get("name")),
        description=_text(document, "description"),
        properties=[_property(p) for p in _declarations(document, "properties")],
        events=_declarations(document, "events"),
        commands=_declarations(document, "commands"),
    )
