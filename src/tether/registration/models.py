"""New-device requests: an operator announces a device id, the device asks for credentials, the
operator accepts, and the device receives its credentials exactly once (docs/protocols.md
section 7; step 0 of Cumulocity's REST device integration guide)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class RequestStatus(StrEnum):
    WAITING_FOR_CONNECTION = "WAITING_FOR_CONNECTION"  # created by the operator; the device has not called
    PENDING_ACCEPTANCE = "PENDING_ACCEPTANCE"  # the device asked for credentials; the operator decides
    ACCEPTED = "ACCEPTED"  # the device's next call receives its credentials (and removes the request)


_S = RequestStatus

# from -> to, per party. The device's first call moves a waiting request on; only the operator
# accepts, and only a request whose device has called (accepting a device that never connected is
# refused with 422, as Cumulocity does). An ACCEPTED request ends when its credentials are issued.
OPERATOR_TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    _S.WAITING_FOR_CONNECTION: frozenset(),
    _S.PENDING_ACCEPTANCE: frozenset({_S.ACCEPTED}),
    _S.ACCEPTED: frozenset(),
}
DEVICE_TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    _S.WAITING_FOR_CONNECTION: frozenset({_S.PENDING_ACCEPTANCE}),
    _S.PENDING_ACCEPTANCE: frozenset(),
    _S.ACCEPTED: frozenset(),
}

DEVICE_USER_PREFIX = "device_"
MAX_ID_LENGTH = 200  # the device user `device_<id>` must fit a 255-character user name


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A new-device request; `id` is the device's own identifier (serial, IMEI), unique platform-wide."""

    id: str
    tenant_id: str
    status: RequestStatus
    owner: str | None
    creation_time: int
    last_updated: int


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """Issued once; the password exists in clear only in this object and the response that carries it."""

    id: str
    tenant_id: str
    username: str
    password: str


def device_username(request_id: str) -> str:
    return DEVICE_USER_PREFIX + request_id
