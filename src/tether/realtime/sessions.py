"""One Bayeux client: who owns it, what it subscribed to, and what waits for its next connect."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from tether.core.events import DomainEvent
from tether.realtime.access import View
from tether.realtime.channels import Endpoint

log = logging.getLogger(__name__)

Message = dict[str, Any]


class Session:
    """A client between handshake and disconnect (or idle expiry).

    Messages queue in a bounded buffer until the next /meta/connect takes them; when the buffer is full the
    oldest message is dropped and counted. At most one connect is held at a time: a newer one supersedes it.
    """

    def __init__(
        self,
        client_id: str,
        tenant_id: str,
        username: str,
        endpoint: Endpoint,
        base_url: str,
        *,
        buffer_size: int,
        timeout: float,
        now: float,
        admin: bool = False,
    ) -> None:
        self.client_id = client_id
        self.tenant_id = tenant_id
        self.username = username
        self.endpoint = endpoint
        self.base_url = base_url
        self.admin = admin  # reads everything of its tenant; others only what their view allows
        self.view: View | None = None  # set by the hub before the first subscription of a non-admin
        self.timeout = timeout  # seconds a connect is held, unless the connect advises otherwise
        self.subscriptions: set[str] = set()
        self.dropped = 0
        self.last_seen = now
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None
        self._buffer: deque[Message] = deque(maxlen=max(1, buffer_size))
        self._sequence = 0
        self._wakeup = asyncio.Event()
        self._waiting = 0
        self._generation = 0

    @property
    def owner(self) -> tuple[str, str]:
        return (self.tenant_id, self.username)

    @property
    def pending(self) -> int:
        """Messages waiting for the next connect."""
        return len(self._buffer)

    @property
    def waiting(self) -> bool:
        """A connect is being held: the client is present, not idle."""
        return self._waiting > 0

    def reads(self, event: DomainEvent) -> bool:
        """Whether this client may be told about `event` (the REST read rule; no view yet: nothing)."""
        return self.admin or (self.view is not None and self.view.allows(event))

    def deliver(self, channel: str, data: object) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1  # deque(maxlen) drops the oldest on append
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "realtime client %s: buffer full, %d message(s) dropped", self.client_id, self.dropped
                )
        self._sequence += 1
        self._buffer.append({"channel": channel, "data": data, "id": str(self._sequence)})
        self._wakeup.set()

    def drain(self) -> list[Message]:
        messages = list(self._buffer)
        self._buffer.clear()
        return messages

    def requeue(self, messages: Iterable[Message]) -> None:
        """Put back messages a transport failed to send, ahead of newer ones (still bounded)."""
        room = self._buffer.maxlen or 0
        kept = [*messages, *self._buffer]
        if len(kept) > room:
            self.dropped += len(kept) - room
            kept = kept[len(kept) - room :]
        self._buffer.clear()
        self._buffer.extend(kept)

    async def wait(self, hold: float) -> list[Message] | None:
        """Messages as soon as any exist, [] after `hold` seconds, None if a newer connect superseded it."""
        self._generation += 1
        generation = self._generation
        self._wakeup.set()  # an older waiter returns; it sees the generation change
        self._waiting += 1
        try:
            if hold > 0:
                async with asyncio.timeout(hold):
                    while not self._buffer and not self.closed and self._generation == generation:
                        self._wakeup.clear()
                        await self._wakeup.wait()
        except TimeoutError:
            pass
        finally:
            self._waiting -= 1
        if self._generation != generation:
            return None
        return self.drain()

    def close(self) -> None:
        """Free the buffer and subscriptions and release a held connect."""
        self.closed = True
        self.subscriptions.clear()
        self._buffer.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._wakeup.set()
