"""Credentials revoked while in use. Deleting a user (TenantService.delete_user, e.g. a device retired with
`DELETE /inventory/managedObjects/{id}?withDeviceUser=true`) announces a `users` DELETE domain event; this
module is the broker's side of it, so the domain never imports the broker:

* every MQTT connection logged in as that user (the principal of its login record) is closed, and its session
  ends with it: MQTT 5 clients get DISCONNECT 0x98 Administrative action (spec 3.14.2.1: "the Connection is
  closed because of an administrative action"; 0x87 Not authorized would say a packet of the client was
  refused), MQTT 3.1.1 clients a closed connection (3.1.1 has no server DISCONNECT);
* the platform hooks forget the user of a certificate login they cached;
* MQTT bootstrap forgets credentials of that device it still held for delivery.

A suspended or deleted tenant (TenantService.deactivated, a `tenants` UPDATE event) loses every MQTT
connection of its clients the same way.

A login that read the user just before the deletion is refused by TenantService.verify; one that finished its
password check before and is still loading its ACL rules is the only window left (milliseconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tether.adapters.access import PlatformHooks
from tether.adapters.device_bootstrap import DeviceBootstrap
from tether.adapters.login import login_of
from tether.broker import Broker, ClientInfo
from tether.core.events import DomainEvent, EventBus
from tether.mqtt.reason_codes import ReasonCode
from tether.registration.models import DEVICE_USER_PREFIX
from tether.tenants.models import Principal

__all__ = ["REVOKED", "install"]

log = logging.getLogger("tether.access")

REVOKED = ReasonCode.ADMINISTRATIVE_ACTION


def _logged_in_as(principal: Principal) -> Callable[[ClientInfo], bool]:
    def select(client: ClientInfo) -> bool:
        login = login_of(client)
        return (
            login is not None
            and login.principal.tenant_id == principal.tenant_id
            and login.principal.username == principal.username
        )

    return select


def _of_tenant(tenant_id: str) -> Callable[[ClientInfo], bool]:
    def select(client: ClientInfo) -> bool:
        login = login_of(client)
        return login is not None and login.principal.tenant_id == tenant_id

    return select


def install(
    events: EventBus, broker: Broker, hooks: PlatformHooks, bootstrap: DeviceBootstrap | None = None
) -> Callable[[], None]:
    """Follow user deletions on the broker's event loop; returns the function that stops it."""

    def on_event(event: DomainEvent) -> None:
        if event.resource == "tenants":  # suspended or deleted: every connection of the tenant ends
            tenant_id = event.tenant_id
            closed = broker.disconnect_clients(_of_tenant(tenant_id), REVOKED)
            log.info("tenant %s suspended: %d MQTT connection(s) closed", tenant_id, closed)
            return
        principal = event.payload
        if event.action != "DELETE" or not isinstance(principal, Principal):
            return
        hooks.forget_user(principal.tenant_id, principal.username)
        if bootstrap is not None and principal.username.startswith(DEVICE_USER_PREFIX):
            bootstrap.forget(principal.username[len(DEVICE_USER_PREFIX) :])
        closed = broker.disconnect_clients(_logged_in_as(principal), REVOKED)
        log.info(
            "user %s/%s deleted: %d MQTT connection(s) closed",
            principal.tenant_id,
            principal.username,
            closed,
        )

    return events.subscribe(on_event, resources={"users", "tenants"})
