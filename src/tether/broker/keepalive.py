"""Idle timers: keep alive (spec 3.1.2.10) and the CONNECT timeout.

[MQTT-3.1.2-22] if the Keep Alive is non-zero and the Server does not receive an MQTT Control Packet from the
Client within one and a half times the Keep Alive time period, it MUST close the Network Connection as if the
network had failed.

:class:`IdleTimer` costs one attribute store per read (``timer.last = now``; no timer is re-armed per packet):
its single timer handle fires at the earliest possible expiry and re-arms itself for the time still to run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["IdleTimer", "keep_alive_timeout"]


def keep_alive_timeout(keep_alive: int) -> float:
    """Seconds of silence after which a client with this keep alive is disconnected (0: never)."""
    return keep_alive * 1.5


class IdleTimer:
    """Calls ``on_expire`` once :attr:`last` (the time of the last activity) is ``timeout`` seconds old."""

    __slots__ = ("_handle", "_loop", "_on_expire", "last", "timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, on_expire: Callable[[], None]
    ) -> None:
        self._loop = loop
        self.timeout = timeout
        self._on_expire = on_expire
        self.last = loop.time()
        self._handle: asyncio.TimerHandle | None = None
        if timeout > 0:
            self._handle = loop.call_at(self.last + timeout, self._check)

    def _check(self) -> None:
        deadline = self.last + self.timeout
        if self._loop.time() >= deadline:
            self._handle = None
            self._on_expire()
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
