"""The login record: what the platform's hooks (:mod:`.access`) decided about an MQTT client at CONNECT (who
it is, which device it acts as, which topics it may use). The broker carries it unread as
``ClientInfo.login``; the adapters read it with :func:`login_of`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tether.adapters.policy import Policy
from tether.broker import ClientInfo
from tether.presence.models import Activity
from tether.registration.xyte_models import XyteDevice
from tether.tenants.models import Principal

__all__ = ["Login", "LoginKind", "login_of"]

#: The credential: a tenant's user (administrator or device user), an EMQX built-in database user, the
#: bootstrap user, a Xyte device's access key.
LoginKind = Literal["user", "mqtt_user", "bootstrap", "xyte"]


# Not frozen: it is also the connection's presence Activity (the fields after `things`, neither compared
# nor hashed); its own fields are never assigned.
@dataclass(slots=True, unsafe_hash=True)
class Login:
    #: Whom the services see.
    principal: Principal
    kind: LoginKind
    #: What it may publish and subscribe to (:mod:`.policy`).
    policy: Policy
    #: An administrator or EMQX superuser: any topic and any ClientId of its tenant.
    superuser: bool = False
    #: The device it acts as towards the platform (the SmartREST adapter's device); None: no device.
    serial: str | None = None
    #: The default SmartREST template of its ClientId (`d:<serial>:<template id>`).
    template_id: str | None = None
    #: A Xyte device: its record, when the hooks loaded it, and its managed object.
    xyte: XyteDevice | None = None
    mo_id: int | None = None
    #: Logged in with a TLS client certificate.
    certificate: bool = False
    #: The EMQX Fleets things it is (their names): the managed objects its credential owns.
    things: tuple[str, ...] = ()
    #: PUBLISH packets received on the connection and the presence service's entry (tether.presence
    #: Activity): the login is its connection's Activity, no object of its own.
    messages: int = field(default=0, init=False, compare=False, repr=False)
    seen: int = field(default=0, init=False, compare=False, repr=False)
    seq: int | None = field(default=None, init=False, compare=False, repr=False)
    known_mo: int | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def activity(self) -> Activity:
        return self

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def device(self) -> str | None:
        return self.serial


def login_of(client: ClientInfo) -> Login | None:
    """The client's login; None for an anonymous client (or one accepted by other hooks)."""
    login = client.login
    return login if isinstance(login, Login) else None
