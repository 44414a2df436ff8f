"""One MQTT connection of a device, as the SmartREST adapter sees it: who it is, the devices it resolved,
what it subscribed to, and the queue that keeps its messages in order.

Messages of one connection are processed in arrival order by one worker task that lives only while the
queue is not empty (no task per message). Measurement-only messages of known devices skip the queue when
it is empty (the adapter's fast path).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any, cast

from tether.adapters.login import Login
from tether.adapters.smartrest.context import DeviceRef
from tether.broker import ClientInfo
from tether.mqtt.reason_codes import ReasonCode
from tether.tenants.models import Principal

__all__ = ["DeviceSession"]

log = logging.getLogger("tether.smartrest")

Work = Callable[[], Awaitable["ReasonCode | None"]]

# What a session that resolved no device yet has (writes fail loudly: remember() replaces them first).
_NO_DEVICES = cast("dict[str, DeviceRef]", MappingProxyType({}))
_NO_IDS = cast("dict[int, DeviceRef]", MappingProxyType({}))
#: The subscription tuples of the sessions, shared: the devices subscribe to the same few filters (at most
#: _SHARED different tuples are kept; beyond, e.g. with per-device `s/dc/<template>`, each has its own).
_SUBSCRIPTIONS: dict[tuple[str, ...], tuple[str, ...]] = {}
_SHARED = 1024


class DeviceSession:
    __slots__ = (
        "by_id",
        "client",
        "closed",
        "devices",
        "host",
        "queue",
        "subscriptions",
        "worker",
    )

    def __init__(self, client: ClientInfo) -> None:
        #: Its login (``client.login``, a :class:`Login` with a serial) says who it is and which device.
        self.client = client
        #: Devices resolved on this connection, by external id and by managed-object id (root included:
        #: see `root`).
        #: Read-only empty mappings shared by every session until the first device is remembered.
        self.devices: dict[str, DeviceRef] = _NO_DEVICES
        self.by_id: dict[int, DeviceRef] = _NO_IDS
        #: Topic filters subscribed to (a tuple: a device has one or two; an empty set costs 216 bytes),
        #: shared by the sessions with the same ones.
        self.subscriptions: tuple[str, ...] = ()
        #: Work waiting, in order; a deque only while there is some (an empty one costs ~760 bytes, and
        #: most connections are idle).
        self.queue: deque[tuple[Work, asyncio.Future[ReasonCode | None]]] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.closed = False
        #: What the templates may ask of this connection (the adapter's Host for it, made at the first
        #: message: SmartRestAdapter._host).
        self.host: Any = None

    def __repr__(self) -> str:
        return f"DeviceSession({self.who.tenant_id}/{self.client.client_id})"

    @property
    def login(self) -> Login:
        return cast(Login, self.client.login)

    @property
    def who(self) -> Principal:
        """Whom the services see."""
        return cast(Login, self.client.login).principal

    @property
    def serial(self) -> str:
        """The device the login acts as (its c8y_Serial)."""
        return cast(str, cast(Login, self.client.login).serial)

    @property
    def root(self) -> DeviceRef | None:
        """The login's own device once resolved: the remembered root under its serial (not a slot of its own:
        one 16-byte size class less per connection)."""
        ref = self.devices.get(cast(str, cast(Login, self.client.login).serial))
        return ref if ref is not None and ref.is_root else None

    @property
    def default_xid(self) -> str | None:
        """The default SmartREST template of the ClientId (`d:<serial>:<template id>`)."""
        return cast(Login, self.client.login).template_id

    @property
    def key(self) -> tuple[str, str]:
        return self.client.mountpoint, self.client.client_id

    @property
    def tenant_id(self) -> str:
        return self.who.tenant_id

    def remember(self, ref: DeviceRef) -> None:
        if self.devices is _NO_DEVICES:
            self.devices, self.by_id = {}, {}
        self.devices[ref.xid] = ref
        self.by_id[ref.mo_id] = ref

    def forget(self, mo_id: int) -> None:
        """The object is deleted: resolved anew on its next use (adapter.root / adapter.target)."""
        if mo_id not in self.by_id:
            return
        ref = self.by_id.pop(mo_id)
        if self.devices.get(ref.xid) is ref:
            del self.devices[ref.xid]

    def forget_all(self) -> None:
        """Every device is resolved anew."""
        self.devices, self.by_id = _NO_DEVICES, _NO_IDS

    @property
    def busy(self) -> bool:
        return bool(self.queue)

    def subscribed(self, topic_filter: str) -> None:
        if topic_filter not in self.subscriptions:
            # Interned: every device subscribes to the same few filters (s/ds, s/e, ...); one string each.
            subscriptions = (*self.subscriptions, sys.intern(topic_filter))
            shared = _SUBSCRIPTIONS.get(subscriptions)
            if shared is None and len(_SUBSCRIPTIONS) < _SHARED:
                shared = _SUBSCRIPTIONS[subscriptions] = subscriptions
            self.subscriptions = shared or subscriptions

    def enqueue(self, work: Work) -> asyncio.Future[ReasonCode | None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ReasonCode | None] = loop.create_future()
        if self.queue is None:
            self.queue = deque()
        self.queue.append((work, future))
        if self.worker is None:
            self.worker = loop.create_task(self._run())
        return future

    async def _run(self) -> None:
        queue = self.queue
        assert queue is not None
        try:
            while queue:
                work, future = queue[0]
                try:
                    result: Any = await work()
                except Exception as exc:  # the work reports its own problems; this is a bug
                    log.exception("SmartREST processing failed for %s", self)
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
                queue.popleft()
        finally:
            self.worker = None
            if not queue:
                self.queue = None
