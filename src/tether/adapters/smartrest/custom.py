"""SmartREST 2.0 custom templates (Cumulocity's smartrest-two; docs/protocols.md section 2).

- `s/ut/<X-ID>`: a publish of request templates (`10,...`) and response templates (`11,...`) creates the
  collection, once per tenant; an empty publish asks whether it exists. The answer comes on s/dt:
  `20,<X-ID>,<id>` or `41,<X-ID>`.
- `s/uc/<X-ID>[/<child>]` (and `s/ud` with the ClientId's default X-ID): rows `<msgId>,<values>` fill the
  empty slots of request template msgId, in order: first the API's mandatory values left empty, then the
  custom values left empty. Requests with `response` true (GET by default) answer with the response
  templates on s/dc/<X-ID> (s/dd for the default collection).
- Operations: every response template whose condition holds yields a line
  `<msgId>,<device external id>,<patterns...>` on s/dc/<X-ID> of the connections subscribed to it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

import tether.adapters.smartrest.template_model as tm
from tether.adapters.smartrest.context import DeviceRef, Fields, parse_number, parse_time
from tether.adapters.smartrest.csv import encode_row, parse_rows_lenient
from tether.adapters.smartrest.errors import Code, SmartRestError, from_domain, invalid, unknown_template
from tether.adapters.smartrest.ports import Connections
from tether.adapters.smartrest.session import DeviceSession
from tether.c8y import documents, render
from tether.core.clock import now_ms, to_iso
from tether.core.errors import Conflict, DomainError, NotFound
from tether.core.ids import parse_id
from tether.core.paging import PageRequest
from tether.core.processing import ProcessingMode
from tether.mqtt.reason_codes import ReasonCode
from tether.mqtt.topics import has_wildcards
from tether.operations.models import Operation, OperationCriteria, OperationStatus
from tether.services import Services
from tether.telemetry.measurements import ingest_row
from tether.telemetry.models import AlarmCriteria, AlarmStatus

__all__ = ["CustomTemplates"]

log = logging.getLogger("tether.smartrest")


class CustomTemplates:
    """`connections` publishes, reports and resolves devices for a connection (ports.py); `store` keeps
    the template collections (store.py; None: none exist and none can be created)."""

    def __init__(self, services: Services, connections: Connections, store: Any) -> None:
        self.services = services
        self.connections = connections
        self.store = store
        #: (tenant, X-ID) -> the collection, or None when it does not exist (creations update it).
        self._cache: dict[tuple[str, str], tm.Collection | None] = {}

    # ------------------------------------------------------------------------------------ collections

    def xids(self, session: DeviceSession) -> list[tuple[str, str]]:
        """(X-ID, response topic) of the collections the connection listens to."""
        out = [(f[5:], f) for f in session.subscriptions if f.startswith("s/dc/") and not has_wildcards(f)]
        if session.default_xid and any(f in ("s/dd", "s/#", "#") for f in session.subscriptions):
            out.append((session.default_xid, "s/dd"))
        return out

    def subscribed(self, session: DeviceSession, topic_filter: str) -> None:
        """Nothing to do at once: collections load when an operation needs them (see ready/load)."""

    def ready(self, session: DeviceSession) -> bool:
        return all((session.tenant_id, xid) in self._cache for xid, _ in self.xids(session))

    async def load(self, session: DeviceSession) -> None:
        for xid, _ in self.xids(session):
            await self.collection(session.tenant_id, xid)

    async def collection(self, tenant_id: str, xid: str) -> tm.Collection | None:
        key = (tenant_id, xid)
        if key in self._cache:
            return self._cache[key]
        found = None if self.store is None else await self.store.get(tenant_id, xid)
        collection = None if found is None else tm.Collection.from_document(found[0], found[1])
        self._cache[key] = collection
        return collection

    def operation_lines(self, session: DeviceSession, op: Operation, xid: str) -> list[tuple[str, list[str]]]:
        """The response-template lines of an operation per topic (collections must be loaded)."""
        out = []
        document: dict[str, Any] | None = None
        for collection_xid, topic in self.xids(session):
            collection = self._cache.get((session.tenant_id, collection_xid))
            if collection is None or not collection.responses:
                continue
            if document is None:
                document = orjson.loads(_operation_json(op))
            lines = tm.respond(collection.responses, document, xid)
            if lines:
                out.append((topic, lines))
        return out

    # ------------------------------------------------------------------------------------ input

    async def handle(
        self, session: DeviceSession, mode: ProcessingMode, kind: str, tail: str, data: bytes
    ) -> ReasonCode | None:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.connections.report(session, SmartRestError(Code.MALFORMED, "Message is not UTF-8 text"))
            return self.connections.result(session, Code.MALFORMED)
        if kind == "ut":
            return await self._register(session, tail, text)
        if kind == "ud":
            xid, child, topic = session.default_xid, tail, "s/dd"
            if not xid:
                self.connections.report(
                    session, SmartRestError(Code.UNKNOWN_TEMPLATE, "No default X-ID in ClientId")
                )
                return self.connections.result(session, Code.UNKNOWN_TEMPLATE)
        else:
            xid, _, child = tail.partition("/")
            topic = f"s/dc/{xid}"
        return await self._requests(session, mode, xid, child, topic, text)

    async def _register(self, session: DeviceSession, xid: str, text: str) -> ReasonCode | None:
        adapter = self.connections
        if not xid or "/" in xid:
            adapter.publish(session, "s/dt", encode_row(["41", xid]))
            return None
        existing = await self.collection(session.tenant_id, xid)
        if not text.strip():
            line = ["20", xid, existing.id] if existing is not None else ["41", xid]
            adapter.publish(session, "s/dt", encode_row(line))
            return None
        if existing is not None:  # a collection cannot be modified over MQTT once created
            adapter.publish(session, "s/dt", encode_row(["41", xid]))
            return None
        try:
            collection = tm.parse_collection(parse_rows_lenient(text))
        except SmartRestError as exc:
            adapter.report(session, exc)
            adapter.publish(session, "s/dt", encode_row(["41", xid]))
            return adapter.result(session, exc.code)
        try:
            new_id = await self.store.create(
                session.tenant_id, xid, session.who.username, collection.to_document(), now_ms()
            )
        except Conflict:
            self._cache.pop((session.tenant_id, xid), None)
            adapter.publish(session, "s/dt", encode_row(["41", xid]))
            return None
        collection.id = new_id
        self._cache[(session.tenant_id, xid)] = collection
        log.info("template collection %s/%s created (%d templates)", session.tenant_id, xid, len(collection))
        adapter.publish(session, "s/dt", encode_row(["20", xid, new_id]))
        return None

    async def _requests(
        self, session: DeviceSession, mode: ProcessingMode, xid: str, child: str, topic: str, text: str
    ) -> ReasonCode | None:
        adapter = self.connections
        collection = await self.collection(session.tenant_id, xid)
        worst: Code | None = None
        measurements: list[Any] = []
        for row, problem in parse_rows_lenient(text):
            msg_id = row[0]
            try:
                if problem is not None:
                    raise SmartRestError(Code.MALFORMED, f"Malformed line: {problem}", msg_id)
                request = collection.requests.get(msg_id) if collection is not None else None
                if request is None:
                    raise unknown_template(msg_id, custom=True)
                target = await adapter.target(session, child)
                assert target is not None
                result = await self._request(
                    session, mode, request, target, Fields(msg_id, row[1:]), measurements
                )
                if (
                    result is not None
                    and (request.response or request.method == "GET")
                    and collection is not None
                ):
                    for line in tm.respond(collection.responses, result, None):
                        adapter.publish(session, topic, line)
            except SmartRestError as exc:
                exc.template = msg_id
                adapter.report(session, exc)
                worst = exc.code if worst is None or exc.code > worst else worst
            except DomainError as exc:
                error = from_domain(exc, msg_id)
                adapter.report(session, error)
                worst = error.code if worst is None or error.code > worst else worst
        if measurements:
            outcome = await adapter.store_measurements(session, measurements, mode)
            if outcome is not None:
                return outcome
        return adapter.result(session, worst)

    async def _request(
        self,
        session: DeviceSession,
        mode: ProcessingMode,
        request: tm.Request,
        target: DeviceRef,
        fields: Fields,
        measurements: list[Any],
    ) -> dict[str, Any] | None:
        """Apply one request template; the object it produced or read (for response templates), if any."""
        values = iter(fields.values)
        services, who = self.services, session.who
        key = (request.method, request.api)
        if key in (("GET", "INVENTORY"), ("PUT", "INVENTORY")):
            mo_id = await self._object_id(session, request, values, fields.template)
            if request.method == "GET":
                return _mo_json(await services.inventory.get(who, mo_id))
            document = _customs(request, values, fields.template)
            return _mo_json(
                await services.inventory.update(who, mo_id, documents.managed_object_change(document))
            )
        if key == ("POST", "INVENTORY"):
            ext_value = next(values, "")
            ext_type = request.mandatory[0] or next(values, "")
            document = _customs(request, values, fields.template)
            mo = await services.inventory.create(who, documents.managed_object(document))
            if ext_value and ext_type:
                await services.identity.register(who, mo.id, ext_type, ext_value)
            return _mo_json(mo)
        mandatory = [slot or next(values, "") for slot in request.mandatory]
        source = {"id": str(target.mo_id)}
        if key == ("POST", "MEASUREMENT"):
            type_, time = mandatory
            document = {"source": source, "type": type_, "time": _time(time, fields.template)}
            document.update(_customs(request, values, fields.template))
            draft = documents.measurement(document)
            if draft.source_id != target.mo_id:
                raise SmartRestError(
                    Code.INVALID_ARGUMENTS, "A measurement's source is the device", fields.template
                )
            measurements.append(ingest_row(target.grant, draft.type, draft.time, draft.fragments))
            return document
        if key == ("POST", "EVENT"):
            type_, text, time = mandatory
            document = {"source": source, "type": type_, "text": text, "time": _time(time, fields.template)}
            document.update(_customs(request, values, fields.template))
            event = await services.device_events.create(who, documents.event(document), mode)
            return {**document, "id": str(event.id)}
        if key == ("POST", "ALARM"):
            type_, text, status, severity, time = mandatory
            document = {
                "source": source,
                "type": type_,
                "text": text,
                "status": status.upper() or "ACTIVE",
                "severity": severity.upper(),
                "time": _time(time, fields.template),
            }
            document.update(_customs(request, values, fields.template))
            alarm = await services.alarms.create(who, documents.alarm(document), mode)
            return {**document, "id": str(alarm.id)}
        if key == ("PUT", "ALARM"):
            (type_,) = mandatory
            changes = _customs(request, values, fields.template)
            for status in (AlarmStatus.ACTIVE, AlarmStatus.ACKNOWLEDGED):
                criteria = AlarmCriteria(source_id=target.mo_id, types=(type_,), statuses=(status,))
                page = await services.alarms.find(who, criteria, PageRequest(page_size=1))
                if page.items and page.items[0].id is not None:
                    await services.alarms.update(who, page.items[0].id, documents.alarm_change(changes), mode)
                    return {"type": type_, **changes}
            return None
        if key == ("PUT", "OPERATION"):
            (fragment,) = mandatory
            changes = _customs(request, values, fields.template)
            return await self._operation(session, target, fragment, changes, fields.template)
        raise invalid(f"Unsupported template {request.method} {request.api}", fields.template)

    async def _object_id(
        self, session: DeviceSession, request: tm.Request, values: Any, template: str
    ) -> int:
        by_id = (request.mandatory[0] or "true").lower() == "true"
        if by_id:
            raw = next(values, "")
            mo_id = parse_id(raw)
            if mo_id is None:
                raise invalid(f"Expected a managed object id (got {raw!r})", template)
            return mo_id
        ext_type = (
            request.mandatory[1] if len(request.mandatory) > 1 and request.mandatory[1] else next(values, "")
        )
        ext_value = next(values, "")
        try:
            return (await self.services.identity.resolve(session.who, ext_type, ext_value)).mo_id
        except NotFound:
            raise invalid(f"No object with external id {ext_type} '{ext_value}'", template) from None

    async def _operation(
        self, session: DeviceSession, target: DeviceRef, fragment: str, changes: dict[str, Any], template: str
    ) -> dict[str, Any] | None:
        """PUT OPERATION: the oldest EXECUTING operation with the fragment, else the oldest PENDING one."""
        services, who = self.services, session.who
        for status in (OperationStatus.EXECUTING, OperationStatus.PENDING):
            criteria = OperationCriteria(device_id=target.mo_id, status=status, fragment_type=fragment)
            page = await services.operations.find(who, criteria, PageRequest(page_size=1))
            if not page.items:
                continue
            op = page.items[0]
            new_status = changes.pop("status", None)
            fragments = {k: v for k, v in changes.items() if k != "failureReason"}
            reason = changes.get("failureReason")
            if new_status is not None:
                wanted = OperationStatus(new_status)
                if op.status is OperationStatus.PENDING and wanted in (
                    OperationStatus.SUCCESSFUL,
                    OperationStatus.FAILED,
                ):
                    op = await services.operations.update(who, op.id, status=OperationStatus.EXECUTING)
                op = await services.operations.update(
                    who,
                    op.id,
                    status=wanted,
                    failure_reason=reason if wanted is OperationStatus.FAILED else None,
                    fragments=fragments,
                )
            else:
                op = await services.operations.update(who, op.id, fragments=fragments)
            document: dict[str, Any] = orjson.loads(_operation_json(op))
            return document
        return None


def _time(value: str, template: str) -> str:
    return to_iso(parse_time(value, template) if value else now_ms())


def _customs(request: tm.Request, values: Any, template: str) -> dict[str, Any]:
    """The document the custom values of a template make, taking the empty ones from `values`."""
    document: dict[str, Any] = {}
    for custom in request.customs:
        raw = custom.value
        if not raw and custom.type != "FLAG":
            raw = next(values, "")
        tm.set_path(document, custom.path, _convert(custom, raw, template))
    return document


def _convert(custom: tm.Custom, raw: str, template: str) -> Any:
    kind = custom.type
    if kind == "FLAG":
        return {}
    if kind == "STRING":
        return raw
    if kind == "DATE":
        return _time(raw, template)
    if not raw:
        raise invalid(f"A value for '{custom.path}' is required", template)
    if kind == "NUMBER":
        return parse_number(raw, custom.path, template)
    if kind in ("INTEGER", "UNSIGNED"):
        number = parse_number(raw, custom.path, template)
        if not isinstance(number, int) or (kind == "UNSIGNED" and number < 0):
            raise invalid(f"'{custom.path}' must be an {kind.lower()} integer (got {raw!r})", template)
        return number
    choices = tm.ENUMS[kind]
    if raw.upper() not in choices:
        raise invalid(f"'{custom.path}' must be one of {' '.join(choices)} (got {raw!r})", template)
    return raw.upper()


def _mo_json(mo: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": str(mo.id), "owner": mo.owner}
    if mo.name is not None:
        body["name"] = mo.name
    if mo.type is not None:
        body["type"] = mo.type
    body.update(mo.fragments)
    return body


def _operation_json(op: Operation) -> bytes:
    return orjson.dumps(render.device_operation(op, ""))
