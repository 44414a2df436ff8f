"""Which MQTT ClientIds a credential may use (docs/security.md): identity comes from the credential, never
from the ClientId alone.

A Cumulocity client id is `connectionType:deviceIdentifier:defaultTemplateIdentifier`, the type and template
optional (docs/protocols.md section 1): `serial`, `d:serial` and `d:serial:template` all name the device
`serial`. Inside a tenant, the broker keys sessions and SmartREST's private topics (s/, t/, ...) by ClientId,
so whoever uses a device's ClientId would take over its connection, its session and its topics.

* A credential bound to a device may use only that device's ClientIds: a device user `device_<serial>`
  (a device-role user with another name is bound to its name), a certificate (its common name), a Xyte
  device (its id, which is also its user name). Anything else: CONNACK 0x85 Client Identifier not valid
  (3.1.1: 2).
* A generic credential (an EMQX built-in user that is not a superuser) chooses its ClientId as in EMQX, but
  never one that belongs to a device of its tenant (see :meth:`PlatformHooks._claimed_by_device`), and its
  ClientId grants it no device namespace.
* Administrators and EMQX superusers may use any ClientId of their tenant, a device's included: an explicit
  right of operators (e.g. to replay a device's traffic), which they have over REST as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.registration.models import DEVICE_USER_PREFIX
from tether.tenants.models import Principal, Role

__all__ = ["ClientIdentity", "bound_serial", "parse_client_id", "uses_serial"]


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """A Cumulocity MQTT client id `connectionType:deviceIdentifier:defaultTemplateIdentifier`, the type and
    template optional (docs/protocols.md section 1)."""

    serial: str | None
    template_id: str | None


def parse_client_id(client_id: str) -> ClientIdentity:
    parts = client_id.split(":")
    if len(parts) == 1:
        return ClientIdentity(client_id or None, None)
    serial = parts[1] or None
    template = ":".join(parts[2:]) or None
    return ClientIdentity(serial, template)


def bound_serial(principal: Principal) -> str | None:
    """The device a tenant user's credential is bound to, or None for a user that is not a device (an
    administrator, the bootstrap user)."""
    if principal.is_admin or Role.DEVICE not in principal.roles:
        return None
    name = principal.username
    return name[len(DEVICE_USER_PREFIX) :] if name.startswith(DEVICE_USER_PREFIX) else name


def uses_serial(client_id: str, serial: str) -> bool:
    """Whether `client_id` is one of the ClientIds of the device `serial` (`serial`, `x:serial`,
    `x:serial:template`)."""
    return parse_client_id(client_id).serial == serial
