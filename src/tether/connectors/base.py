"""What every sink client is: `check()` (the connector's health), `send()` (a batch of a rule's outputs,
in order) and `close()`. A client raises `SinkUnavailable` when its server cannot be reached: the batch
stays in the action's buffer and is sent again; an output the server refuses (bad data) is failed alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tether.rules.connector_service import SinkTemplate

__all__ = ["Outcome", "SinkClient", "SinkUnavailable", "host_port", "reason_of"]

#: Per output: None when the server took it, else why it refused it.
Outcome = str | None


class SinkUnavailable(Exception):
    """The server cannot be reached now; `done` are the outcomes of the outputs handled before."""

    def __init__(self, reason: str, done: Sequence[Outcome] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.done = list(done)


class SinkClient(Protocol):
    async def check(self) -> None: ...

    async def send(self, template: SinkTemplate, outputs: Sequence[dict[str, Any]]) -> list[Outcome]: ...

    async def close(self) -> None: ...


def host_port(server: str, default: int) -> tuple[str, int]:
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, default


def reason_of(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
