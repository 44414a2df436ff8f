"""MQTT device bootstrap (docs/protocols.md section 7; topics s/ucr and s/dcr).

A new device connects as the bootstrap user `management/devicebootstrap` with its serial as client id,
subscribes to `s/dcr` and keeps publishing empty messages on `s/ucr`. Each message is one poll of the same
new-device request flow as REST `/devicecontrol/deviceCredentials` (RegistrationService.device_credentials:
the first poll moves the operator's request WAITING_FOR_CONNECTION -> PENDING_ACCEPTANCE; nothing is sent
until the operator accepts; then the device user is created). The device then receives
`70,<tenant>,<username>,<password>` on `s/dcr`, once.

The SmartREST adapter owns the topic root `s`; it (or whoever dispatches `s`) hands the messages of bootstrap
clients (:func:`is_bootstrap`) to :meth:`DeviceBootstrap.handle`.

At most one poll per client runs at a time (polls arriving meanwhile are dropped: the next one asks again).
Credentials issued while the device was not there to receive them (it left between its poll and the answer)
are kept in memory for a few minutes and sent on its next poll, so they are not lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from tether.adapters.login import login_of
from tether.broker import ClientInfo, Message
from tether.core.errors import DomainError, NotFound
from tether.mqtt.reason_codes import ReasonCode
from tether.registration.service import RegistrationService
from tether.tenants.models import Principal

__all__ = ["REQUEST_TOPIC", "RESPONSE_TOPIC", "DeviceBootstrap", "is_bootstrap"]

log = logging.getLogger("tether.bootstrap")

REQUEST_TOPIC = "s/ucr"
RESPONSE_TOPIC = "s/dcr"
#: broker.publish(topic, payload, *, qos, mountpoint, client_id) -> sessions reached
Publish = Callable[..., int]


def is_bootstrap(client: ClientInfo) -> bool:
    login = login_of(client)
    return login is not None and login.kind == "bootstrap"


class DeviceBootstrap:
    HOLD_SECONDS = 300.0

    def __init__(self, registration: RegistrationService, publish: Publish) -> None:
        self._registration = registration
        self._publish = publish
        self._polling: dict[tuple[str, str], asyncio.Task[None]] = {}
        # serial -> (until, payload): issued but not delivered
        self._undelivered: dict[str, tuple[float, bytes]] = {}

    def handle(
        self, client: ClientInfo, topic: str, message: Message
    ) -> asyncio.Future[ReasonCode | None] | None:
        """A broker message handler for root `s`: acts on a bootstrap client's `s/ucr`, ignores the rest
        (the broker's authorization lets a bootstrap client publish nothing else)."""
        if topic != REQUEST_TOPIC or not is_bootstrap(client):
            return None
        login = login_of(client)
        serial = login.serial if login is not None else None
        if login is None or not serial:
            log.info("bootstrap client %r: no device id in its client id; ignored", client.client_id)
            return None
        key = (client.mountpoint, client.client_id)
        if key not in self._polling:
            task = asyncio.get_running_loop().create_task(self._poll(client, login.principal, serial))
            self._polling[key] = task
            task.add_done_callback(lambda _: self._polling.pop(key, None))
        return None

    async def _poll(self, client: ClientInfo, principal: Principal, serial: str) -> None:
        held = self._undelivered.pop(serial, None)
        if held is not None and held[0] > time.monotonic():
            self._deliver(client, serial, held[1])
            return
        try:
            credentials = await self._registration.device_credentials(principal, serial)
        except NotFound:
            return  # not accepted yet (or no request): the device keeps polling
        except DomainError as exc:
            log.warning("bootstrap of device %s failed: %s", serial, exc.message)
            return
        except Exception:
            log.exception("bootstrap of device %s failed", serial)
            return
        payload = f"70,{credentials.tenant_id},{credentials.username},{credentials.password}".encode()
        self._deliver(client, serial, payload)

    def forget(self, serial: str) -> None:
        """The device user of `serial` was deleted: credentials held for it are void."""
        self._undelivered.pop(serial, None)

    def _deliver(self, client: ClientInfo, serial: str, payload: bytes) -> None:
        reached = self._publish(
            RESPONSE_TOPIC, payload, qos=1, mountpoint=client.mountpoint, client_id=client.client_id
        )
        if reached:
            log.info("sent credentials to device %s on %s", serial, RESPONSE_TOPIC)
            return
        now = time.monotonic()
        self._undelivered = {k: v for k, v in self._undelivered.items() if v[0] > now}
        self._undelivered[serial] = (now + self.HOLD_SECONDS, payload)
        log.warning(
            "device %s is not subscribed to %s: credentials held for its next poll", serial, RESPONSE_TOPIC
        )
