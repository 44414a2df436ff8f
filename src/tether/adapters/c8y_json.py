"""Cumulocity JSON via MQTT (Cumulocity's json-via-mqtt; docs/protocols.md section 2).

Topics `<api>/<resource>/<action>[/<id>]`, also under t/, q/ and c/ for the processing modes:
event/events (create, createBulk, update, delete), alarm/alarms (create, createBulk, update),
measurement/measurements (create, createBulk, delete), inventory/managedObjects (create, update) and
inventory/managedObjects/<id>/childDevices/create. Payloads are the REST API's documents; the source is
always the device of the MQTT ClientId, whatever the payload says. Errors go to the client's `error`
topic as `{"error": "<api>/<kind>", "message": ...}`; operations come as JSON on
devicecontrol/notifications (smartrest/dispatch.py).

It shares the SmartREST adapter's connections: device resolution (and automatic creation), the ingest
batch for measurements and the ordered per-connection queue; it reaches them through the port
smartrest/ports.py (Connections), not the adapter itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from tether.c8y import documents
from tether.c8y import errors as wording
from tether.core.errors import BadRequest, DomainError, ErrorMap, Forbidden, InvalidInput, NotFound
from tether.core.ids import parse_id
from tether.core.processing import ProcessingMode
from tether.inventory.models import ChildKind
from tether.mqtt.reason_codes import ReasonCode
from tether.services import Services
from tether.telemetry.measurements import ingest_row

if TYPE_CHECKING:  # annotations only: the smartrest package's __init__ imports this module (adapter.py)
    from tether.adapters.smartrest.ports import Connections
    from tether.adapters.smartrest.session import DeviceSession

__all__ = ["JsonViaMqtt"]

log = logging.getLogger("tether.c8y_json")

_COLLECTIONS = {
    "event/events": "events",
    "alarm/alarms": "alarms",
    "measurement/measurements": "measurements",
}


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    """How JSON via MQTT reports a domain error: the kind in its error body (None: the error's own `kind`),
    the reason code of the MQTT 5 acknowledgement, and the api of the body (None: the topic's)."""

    kind: str | None
    reason: ReasonCode
    api: str | None = None


_INVALID = JsonAnswer("validationError", ReasonCode.PAYLOAD_FORMAT_INVALID)
#: Domain error -> its report on the `error` topic.
ANSWERS: ErrorMap[JsonAnswer] = ErrorMap(
    {
        InvalidInput: _INVALID,
        BadRequest: _INVALID,
        NotFound: JsonAnswer("Not Found", ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR),
        Forbidden: JsonAnswer("Forbidden", ReasonCode.NOT_AUTHORIZED, "security"),
        DomainError: JsonAnswer(None, ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR),
    }
)


class JsonError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class JsonViaMqtt:
    ROOTS = ("event", "alarm", "measurement", "inventory")

    def __init__(self, services: Services, connections: Connections) -> None:
        self.services = services
        self.connections = connections

    def error(
        self,
        session: DeviceSession,
        kind: str,
        message: str,
        api: str = "undefined",
        *,
        message_id: int = 0,
    ) -> None:
        """Publish `{error, message, messageId}` on the device's `error` topic; messageId is the Packet
        Identifier of the message that failed (QoS 1 and 2; left out for QoS 0, which has none)."""
        body: dict[str, Any] = {"error": f"{api}/{kind}", "message": message}
        if message_id:
            body["messageId"] = message_id
        log.info("JSON via MQTT %s: %s", session, body)
        self.connections.publish(session, "error", orjson.dumps(body))

    async def handle(
        self, session: DeviceSession, mode: ProcessingMode, topic: str, data: bytes, message_id: int = 0
    ) -> ReasonCode | None:
        api = topic.partition("/")[0]
        reason = ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR
        try:
            document = orjson.loads(data) if data.strip() else {}
            return await self._dispatch(session, mode, topic, document, message_id)
        except orjson.JSONDecodeError as exc:
            kind, text, reason = "validationError", f"Invalid JSON: {exc}", ReasonCode.PAYLOAD_FORMAT_INVALID
        except JsonError as exc:
            kind, text = exc.kind, exc.message
        except DomainError as exc:
            answer = ANSWERS(exc)
            kind, text, reason, api = (
                answer.kind or exc.kind,
                wording.message(exc),
                answer.reason,
                answer.api or api,
            )
        self.error(session, kind, text, api, message_id=message_id)
        return self._reason(session, reason)

    @staticmethod
    def _reason(session: DeviceSession, code: ReasonCode) -> ReasonCode | None:
        return code if session.client.protocol_version == 5 else None

    def _rejecter(self, session: DeviceSession, api: str, message_id: int) -> Any:
        """The answer to a measurement the store refused after the checks (smartrest/ingest.py)."""

        def rejected(text: str) -> ReasonCode | None:
            self.error(session, "validationError", text, api, message_id=message_id)
            return self._reason(session, ReasonCode.PAYLOAD_FORMAT_INVALID)

        return rejected

    async def _dispatch(
        self, session: DeviceSession, mode: ProcessingMode, topic: str, document: Any, message_id: int = 0
    ) -> ReasonCode | None:
        levels = topic.split("/")
        if len(levels) < 3:
            raise JsonError("notSupported", f"Unsupported topic {topic!r}")
        collection = "/".join(levels[:2])
        if collection == "inventory/managedObjects":
            await self._inventory(session, levels[2:], document)
            return None
        resource = _COLLECTIONS.get(collection)
        action, rest = levels[2], levels[3:]
        if resource is None:
            raise JsonError("notSupported", f"Unsupported topic {topic!r}")
        rejected = self._rejecter(session, levels[0], message_id)
        if action == "create" and not rest:
            return await self._create(session, mode, resource, [_object(document)], rejected)
        if action == "createBulk" and not rest:
            items = document.get(resource) if isinstance(document, dict) else None
            if not isinstance(items, list) or not items:
                raise InvalidInput(f"'{resource}' must be a non-empty list", resource=levels[0])
            return await self._create(session, mode, resource, [_object(item) for item in items], rejected)
        if action in ("update", "delete") and len(rest) == 1:
            await self._change(session, mode, resource, action, _id(rest[0]), document)
            return None
        raise JsonError("notSupported", f"Unsupported action {action!r} on {collection}")

    async def _create(
        self,
        session: DeviceSession,
        mode: ProcessingMode,
        resource: str,
        items: list[dict[str, Any]],
        rejected: Any = None,
    ) -> ReasonCode | None:
        adapter = self.connections
        root = await adapter.root(session)
        assert root is not None
        services = self.services
        who = session.who
        for item in items:
            item["source"] = {"id": str(root.mo_id)}  # always the ClientId's device (json-via-mqtt)
        if resource == "measurements":
            # Checked (the document, then ingest_row: core/values.py, times) before they join the shared
            # ingest batch.
            drafts = [documents.measurement(item) for item in items]
            rows = [ingest_row(root.grant, d.type, d.time, d.fragments) for d in drafts]
            return await adapter.store_measurements(session, rows, mode, rejected)
        if resource == "events":
            for item in items:
                await services.device_events.create(who, documents.event(item), mode)
        else:
            for item in items:
                await services.alarms.create(who, documents.alarm(item), mode)
        return None

    async def _change(
        self,
        session: DeviceSession,
        mode: ProcessingMode,
        resource: str,
        action: str,
        id_: int,
        document: Any,
    ) -> None:
        services = self.services
        who = session.who
        if resource == "events":
            if action == "update":
                await services.device_events.update(who, id_, documents.event_change(_object(document)), mode)
            else:
                await services.device_events.delete(who, id_, mode)
        elif resource == "alarms" and action == "update":
            await services.alarms.update(who, id_, documents.alarm_change(_object(document)), mode)
        elif resource == "measurements" and action == "delete":
            await services.measurements.delete(who, id_, mode)
        else:
            raise JsonError("notSupported", f"Unsupported action {action!r} on {resource}")

    async def _inventory(self, session: DeviceSession, levels: list[str], document: Any) -> None:
        inventory = self.services.inventory
        who = session.who
        if levels == ["create"]:
            await inventory.create(who, documents.managed_object(_object(document)))
        elif len(levels) == 2 and levels[0] == "update":
            await inventory.update(who, _id(levels[1]), documents.managed_object_change(_object(document)))
        elif len(levels) == 3 and levels[1:] == ["childDevices", "create"]:
            parent = _id(levels[0])
            child = _object(document)
            reference = child.get("managedObject")
            if isinstance(reference, Mapping) and "id" in reference:
                await inventory.add_child(who, parent, ChildKind.DEVICE, _id(str(reference["id"])))
            else:
                created = await inventory.create(who, documents.managed_object(child))
                await inventory.add_child(who, parent, ChildKind.DEVICE, created.id)
        else:
            raise JsonError("notSupported", f"Unsupported topic inventory/managedObjects/{'/'.join(levels)}")


def _object(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInput("The payload must be a JSON object", resource="undefined")
    return document


def _id(text: str) -> int:
    value = parse_id(text)
    if value is None:
        raise InvalidInput(f"Invalid id {text!r}", resource="undefined")
    return value
