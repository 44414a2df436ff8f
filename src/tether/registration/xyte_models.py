"""Xyte-style device models and registered devices (docs/protocols.md section 9).

A device model belongs to a tenant (Xyte's "partner") and carries a generated, platform-wide unique
`hardware_key`: the shared credential a device's firmware presents to register itself, which also selects
the tenant. Its communication protocol is fixed at creation ("This setting must be configured at model
creation time and cannot be changed afterwards"; docs/protocols.md section 9).

A registered device IS a managed object with c8y_IsDevice (docs/architecture.md section 1); the record here
only holds what the inventory cannot: the Xyte id (a UUID, unique platform-wide), the hash of its access key
and the identifying fields that must not register twice (model + serial number, MAC, cloud id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.core.errors import InvalidInput
from tether.tenants.models import Principal, Role

R = "xyte"
MAX_NAME_LENGTH = 255
MAX_FIELD_LENGTH = 255
#: The owner of a Xyte device's managed object and the user name of its principal; no user row exists:
#: the device authenticates with its access key only.
XYTE_USER_PREFIX = "xyte_"
#: External id types registered for every Xyte device.
XYTE_ID_TYPE = "xyte_id"
SERIAL_ID_TYPE = "c8y_Serial"
#: The fragment of the managed object that holds the Xyte registration data.
DEVICE_FRAGMENT = "xyte_Device"

_MAC_SEPARATORS = re.compile(r"[:\-.]")
_HEX12 = re.compile(r"[0-9A-F]{12}")


class CommunicationProtocol(StrEnum):
    MQTT = "mqtt"
    HTTPS = "https"


@dataclass(frozen=True, slots=True)
class DeviceModel:
    id: str  # a UUID
    tenant_id: str
    name: str
    communication_protocol: CommunicationProtocol
    hardware_key: str  # a UUID; the registration credential of every device of the model
    creation_time: int
    last_updated: int


@dataclass(frozen=True, slots=True)
class XyteDevice:
    """A registered device: what authentication and the protocol adapters need to know of it."""

    id: str  # a UUID: the device's MQTT client id and user name, and the {id} of its HTTPS paths
    tenant_id: str
    model_id: str
    mo_id: int  # its managed object
    sn: str
    mac: str | None
    cloud_id: str | None
    access_key_hash: str = field(repr=False)
    creation_time: int

    @property
    def username(self) -> str:
        return XYTE_USER_PREFIX + self.id

    @property
    def principal(self) -> Principal:
        """Whom the device acts as: a device of its tenant that owns its own managed object."""
        return Principal(tenant_id=self.tenant_id, username=self.username, roles=frozenset({Role.DEVICE}))


@dataclass(frozen=True, slots=True)
class DeviceRegistration:
    """The body of `POST /v1/devices`, checked: hardware_key, sn and firmware_version are required, and
    `mac` or `cloud_id` (the model's authentication method, docs/protocols.md section 9)."""

    hardware_key: str
    sn: str
    firmware_version: str
    mac: str | None = None
    cloud_id: str | None = None
    name: str | None = None
    details: Mapping[str, Any] | None = None
    sub_model: str | None = None
    parent_id: str | None = None  # the Xyte id of an already registered device of the same tenant


@dataclass(frozen=True, slots=True)
class Registered:
    """The outcome of a registration; the access key exists in clear only here and in the response."""

    device: XyteDevice
    access_key: str


def normalize_mac(value: str) -> str:
    """`8e-00-00-00-00-06`, `8E:00:00:00:00:06` and `8e0000000006` are one MAC: `8E:00:00:00:00:06`."""
    digits = _MAC_SEPARATORS.sub("", value.strip()).upper()
    if not _HEX12.fullmatch(digits):
        raise InvalidInput(f"'mac' must be a MAC address of 12 hex digits, got {value!r}", resource=R)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def text(
    document: Mapping[str, Any], key: str, *, required: bool, max_length: int = MAX_FIELD_LENGTH
) -> str | None:
    """A string field: missing (or null) is None unless required; present it must be a non-blank string."""
    value = document.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"'{key}' is required", resource=R)
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"'{key}' must be a non-empty string", resource=R)
    if len(value) > max_length:
        raise InvalidInput(f"'{key}' is longer than {max_length} characters", resource=R)
    if "\x00" in value or not value.isprintable():
        raise InvalidInput(f"'{key}' must not contain control characters", resource=R)
    return value


def parse_registration(document: Mapping[str, Any]) -> DeviceRegistration:
    """Check the registration body; a missing or malformed field is InvalidInput (HTTP 422)."""
    hardware_key = text(document, "hardware_key", required=True)
    sn = text(document, "sn", required=True)
    firmware_version = text(document, "firmware_version", required=True)
    assert hardware_key is not None and sn is not None and firmware_version is not None
    raw_mac = text(document, "mac", required=False)
    cloud_id = text(document, "cloud_id", required=False)
    if raw_mac is None and cloud_id is None:
        raise InvalidInput("'mac' or 'cloud_id' is required (the model's authentication method)", resource=R)
    details = document.get("details")
    if details is not None and not isinstance(details, dict):
        raise InvalidInput("'details' must be a JSON object", resource=R)
    return DeviceRegistration(
        hardware_key=hardware_key.strip(),
        sn=sn,
        firmware_version=firmware_version,
        mac=None if raw_mac is None else normalize_mac(raw_mac),
        cloud_id=cloud_id,
        name=text(document, "name", required=False),
        details=details,
        sub_model=text(document, "sub_model", required=False),
        parent_id=text(document, "parent_id", required=False),
    )


def parse_protocol(value: Any) -> CommunicationProtocol:
    names = ", ".join(p.value for p in CommunicationProtocol)
    if not isinstance(value, str):
        raise InvalidInput(f"'communication_protocol' must be one of {names}", resource=R)
    try:
        return CommunicationProtocol(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"'communication_protocol' must be one of {names}, got {value!r}", resource=R
        ) from None
