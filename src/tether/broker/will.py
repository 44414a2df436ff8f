"""Will Messages (spec 3.1.2.5, 3.1.3.2): published when a connection ends without a normal DISCONNECT.

* [MQTT-3.1.2-8] the Will Message MUST be published after the Network Connection is closed and either the
  Will Delay Interval has passed or the Session ends, unless it has been deleted by the Server on receipt of a
  DISCONNECT with Reason Code 0x00 [MQTT-3.1.2-10] or a new Network Connection for the ClientID is opened
  before the Will Delay Interval has passed (spec 3.1.3.2.2).
* MQTT 3.1.1 has no delay: the will is published as soon as the connection is lost (3.1.1 spec 3.1.2.5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tether.mqtt.packets import Will

from .message import Message

__all__ = ["PendingWill", "will_message"]


def will_message(will: Will, topic: str) -> Message:
    """The Application Message of a will, on `topic` (the will's topic inside the broker). Will Delay
    Interval is a will property, not a PUBLISH one."""
    props = will.properties
    if props.will_delay_interval is not None:
        props = props.replace(will_delay_interval=None)
    return Message(topic, will.payload, will.qos, will.retain, props, None, None)


class PendingWill:
    """A will waiting for its delay; published by :meth:`fire` (at the latest when the session ends)."""

    __slots__ = ("_handle", "_publish", "_suspended", "due", "message")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        message: Message,
        delay: float,
        publish: Callable[[Message], None],
    ) -> None:
        self.message = message
        self._publish = publish
        #: Event-loop time at which the will is published.
        self.due = loop.time() + delay
        self._handle: asyncio.TimerHandle | None = loop.call_at(self.due, self.fire)
        self._suspended = False

    @property
    def pending(self) -> bool:
        """Not yet published nor cancelled (a suspended will is still pending: it is saved as such)."""
        return self._handle is not None or self._suspended

    def fire(self) -> None:
        if self._handle is None:
            return
        self._handle.cancel()
        self._handle = None
        self._publish(self.message)

    def cancel(self) -> None:
        """A new network connection took the session over in time: the will is not sent."""
        self._suspended = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def suspend(self) -> None:
        """The broker is stopping: stop the timer but keep the will pending (to be saved)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._suspended = True
