"""The ports between the SmartREST adapter's broker binding and the parts it delegates to.

`Connections` is what custom templates (custom.py), operation dispatch (dispatch.py) and JSON via MQTT
(tether.adapters.c8y_json) ask of the binding (adapter.py) about one device connection: publish on its
topics, report an error on s/e, turn the worst error of a message into its MQTT 5 reason code, resolve
(and create) its devices and store its measurements through the shared ingest batch. `ResponseTemplates`
is what operation dispatch asks of the custom templates. The binding builds every collaborator and hands
it these (with the domain services) explicitly, so none of them imports the binding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tether.adapters.smartrest.context import DeviceRef
from tether.adapters.smartrest.errors import Code, SmartRestError
from tether.adapters.smartrest.ingest import Rejected
from tether.adapters.smartrest.session import DeviceSession
from tether.core.processing import ProcessingMode
from tether.mqtt.reason_codes import ReasonCode
from tether.operations.models import Operation
from tether.telemetry.measurements import IngestRow

__all__ = ["Connections", "ResponseTemplates"]


class Connections(Protocol):
    """One device connection's output and devices, as the adapter's collaborators use them."""

    def publish(self, session: DeviceSession, topic: str, payload: str | bytes) -> int:
        """Publish on one of the client's own topics (s/ds, s/e, error, ...); how many received it."""
        ...

    def report(self, session: DeviceSession, error: SmartRestError, topic: str = "s/e") -> None:
        """Publish the error's line on `topic`."""
        ...

    def result(self, session: DeviceSession, worst: Code | None) -> ReasonCode | None:
        """The acknowledgement's reason code for a message whose worst error was `worst` (MQTT 5 only)."""
        ...

    async def root(self, session: DeviceSession, *, create: bool = True) -> DeviceRef | None:
        """The ClientId's device, created when missing (`create`)."""
        ...

    async def target(self, session: DeviceSession, child: str, *, create: bool = True) -> DeviceRef | None:
        """The device a topic names: the root, or its child `child` (created when missing)."""
        ...

    async def store_measurements(
        self,
        session: DeviceSession,
        measurements: Sequence[IngestRow],
        mode: ProcessingMode,
        rejected: Rejected | None = None,
    ) -> ReasonCode | None:
        """Store checked measurements (through the ingest batch when `mode` stores them); the reason
        code to acknowledge the message with when not plain success. `rejected(text)`: the answer when
        the store refuses a row after the checks (default: 45 on s/e)."""
        ...


class ResponseTemplates(Protocol):
    """The custom response templates of a connection, as operation dispatch uses them."""

    def ready(self, session: DeviceSession) -> bool:
        """Whether every collection the connection listens to is loaded (no database read needed)."""
        ...

    async def load(self, session: DeviceSession) -> None: ...

    def operation_lines(self, session: DeviceSession, op: Operation, xid: str) -> list[tuple[str, list[str]]]:
        """The response-template lines of an operation per topic (collections must be loaded)."""
        ...
