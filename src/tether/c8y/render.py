"""Domain objects out as Cumulocity JSON: managed objects and their references, external ids,
measurements, events, alarms and operations, for REST, the real-time notifications and JSON via MQTT.

Ids are strings; a stored fragment never shadows a field of the server. Measurements, events and alarms
may have no id (processing mode TRANSIENT): then the document has no `id` and no `self`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import orjson

from tether.core.clock import MAX_MS, MIN_MS, to_iso
from tether.identity.models import ExternalId
from tether.inventory.models import ChildKind, ManagedObject, Relations
from tether.operations.models import Operation
from tether.telemetry.models import Alarm, Event, Measurement

Json = dict[str, Any]

PARENT_KEYS = {
    ChildKind.DEVICE: "deviceParents",
    ChildKind.ASSET: "assetParents",
    ChildKind.ADDITION: "additionParents",
}


# -- urls -----------------------------------------------------------------------------------------


def mo_url(base: str, mo_id: int) -> str:
    return f"{base}/inventory/managedObjects/{mo_id}"


def measurement_url(base: str, measurement_id: int) -> str:
    return f"{base}/measurement/measurements/{measurement_id}"


def event_url(base: str, event_id: int) -> str:
    return f"{base}/event/events/{event_id}"


def alarm_url(base: str, alarm_id: int) -> str:
    return f"{base}/alarm/alarms/{alarm_id}"


def operation_url(base: str, op_id: int) -> str:
    return f"{base}/devicecontrol/operations/{op_id}"


# -- inventory and identity -----------------------------------------------------------------------


def managed_object(base: str, mo: ManagedObject, relations: Relations | None = None) -> Json:
    url = mo_url(base, mo.id)
    body: Json = {"id": str(mo.id), "self": url}
    if mo.name is not None:
        body["name"] = mo.name
    if mo.type is not None:
        body["type"] = mo.type
    body["owner"] = mo.owner
    body["creationTime"] = to_iso(mo.creation_time)
    body["lastUpdated"] = to_iso(mo.last_updated)
    body.update(mo.fragments)
    if relations is not None:
        for kind in ChildKind:
            refs = relations.children.get(kind, [])
            body[kind.value] = {
                "self": f"{url}/{kind.value}",
                "references": [reference(base, mo.id, kind, ref.id, ref.name) for ref in refs],
            }
        for kind, key in PARENT_KEYS.items():
            refs = relations.parents.get(kind, [])
            body[key] = {
                "self": f"{url}/{key}",
                "references": [
                    {
                        "managedObject": _stub(base, ref.id, ref.name),
                        "self": f"{mo_url(base, ref.id)}/{kind.value}/{mo.id}",
                    }
                    for ref in refs
                ],
            }
    return body


def _stub(base: str, mo_id: int, name: str | None) -> Json:
    stub: Json = {"id": str(mo_id), "self": mo_url(base, mo_id)}
    if name is not None:
        stub["name"] = name
    return stub


def reference(
    base: str,
    parent_id: int,
    kind: ChildKind,
    child_id: int,
    name: str | None,
    child: ManagedObject | None = None,
) -> Json:
    return {
        "managedObject": managed_object(base, child) if child is not None else _stub(base, child_id, name),
        "self": f"{mo_url(base, parent_id)}/{kind.value}/{child_id}",
    }


def external_id(base: str, xid: ExternalId) -> Json:
    return {
        "externalId": xid.value,
        "type": xid.type,
        "self": f"{base}/identity/externalIds/{quote(xid.type, safe='')}/{quote(xid.value, safe='')}",
        "managedObject": {"id": str(xid.mo_id), "self": mo_url(base, xid.mo_id)},
    }


# -- measurements, events, alarms -----------------------------------------------------------------


def _identity(body: Json, item_id: int | None, url: str) -> None:
    if item_id is not None:
        body["id"] = str(item_id)
        body["self"] = url


def _source(base: str, source_id: int, name: str | None = None) -> Json:
    source: Json = {"id": str(source_id)}
    if name is not None:
        source["name"] = name
    source["self"] = mo_url(base, source_id)
    return source


def _fragments(body: Json, fragments: Json) -> Json:
    for key, value in fragments.items():
        body.setdefault(key, value)  # never let a stored fragment shadow a field of the server
    return body


def measurement(base: str, m: Measurement) -> Json:
    body: Json = {}
    _identity(body, m.id, measurement_url(base, m.id or 0))
    body["source"] = _source(base, m.source_id)
    if m.type is not None:
        body["type"] = m.type
    body["time"] = to_iso(m.time)
    return _fragments(body, m.fragments)


def measurements(base: str, items: Iterable[Measurement]) -> list[Json]:
    """Many measurements (a page, a created collection), as :func:`measurement` renders each: the `self`
    prefix once, one `source` object per source shared by its measurements, each second's text once
    (rendering was a quarter of the CPU of a paged GET, bench/README.md)."""
    prefix = f"{base}/measurement/measurements/"
    sources: dict[int, Json] = {}
    seconds: dict[int, str] = {}
    out: list[Json] = []
    for m in items:
        source = sources.get(m.source_id)
        if source is None:
            source = sources[m.source_id] = _source(base, m.source_id)
        if m.id is None:
            body: Json = {"source": source}
        else:
            text_id = str(m.id)
            body = {"id": text_id, "self": prefix + text_id, "source": source}
        if m.type is not None:
            body["type"] = m.type
        at = m.time
        second = seconds.get(at // 1000) if MIN_MS <= at <= MAX_MS else None
        if second is None:
            body["time"] = time = to_iso(at)
            if MIN_MS <= at <= MAX_MS:
                seconds[at // 1000] = time[:-4]
        else:
            body["time"] = f"{second}{at % 1000:03d}Z"
        for key, value in m.fragments.items():
            if key not in body:  # never let a stored fragment shadow a field of the server
                body[key] = value
        out.append(body)
    return out


#: The fields a measurement's document gets from the server.
_MEASUREMENT_FIELDS = frozenset({"id", "self", "source", "type", "time"})


def measurements_json(base: str, items: Iterable[Measurement]) -> bytes:
    """:func:`measurements` as JSON text (an array), written straight to bytes: the fields the server owns
    formatted in (the `self` prefix, each source and type, each second encoded once) and each document's
    fragments encoded on their own, with no document built and encoded again. A document without an id
    or a type, with a time outside the years 1..9999 or with a fragment named like a field of the server
    is rendered by :func:`measurement`."""
    dumps = orjson.dumps
    prefix = dumps(f"{base}/measurement/measurements/")[:-1]  # encoded as JSON, without the closing quote
    middles: dict[tuple[int, str], bytes] = {}  # `"source":{..},"type":"..","time":"` by source and type
    seconds: dict[int, bytes] = {}
    parts: list[bytes] = []
    for m in items:
        fragments, at, type_ = m.fragments, m.time, m.type
        if (
            m.id is None
            or type_ is None
            or not MIN_MS <= at <= MAX_MS
            or not _MEASUREMENT_FIELDS.isdisjoint(fragments)
        ):
            parts.append(dumps(measurement(base, m)))
            continue
        key = (m.source_id, type_)
        middle = middles.get(key)
        if middle is None:
            source = dumps(_source(base, m.source_id))
            middle = middles[key] = b'"source":%s,"type":%s,"time":"' % (source, dumps(type_))
        second = seconds.get(at // 1000)
        if second is None:
            second = seconds[at // 1000] = to_iso(at)[:-4].encode()  # `2024-01-01T10:12:24.`
        text = dumps(fragments)  # `{}` or `{"c8y_X":...}`: its members join the document's
        parts.append(
            b'{"id":"%d","self":%s%d",%s%s%03dZ"%s%s'
            % (m.id, prefix, m.id, middle, second, at % 1000, b"," if len(text) > 2 else b"", text[1:])
        )
    return b"[%s]" % b",".join(parts)


def event(base: str, e: Event) -> Json:
    body: Json = {}
    _identity(body, e.id, event_url(base, e.id or 0))
    body["creationTime"] = to_iso(e.creation_time)
    body["lastUpdated"] = to_iso(e.last_updated)
    body["source"] = _source(base, e.source_id)
    body["type"] = e.type
    body["text"] = e.text
    body["time"] = to_iso(e.time)
    return _fragments(body, e.fragments)


def alarm(base: str, a: Alarm) -> Json:
    body: Json = {}
    _identity(body, a.id, alarm_url(base, a.id or 0))
    body["creationTime"] = to_iso(a.creation_time)
    body["lastUpdated"] = to_iso(a.last_updated)
    body["source"] = _source(base, a.source_id, a.source_name)
    body["type"] = a.type
    body["text"] = a.text
    body["status"] = a.status.value
    body["severity"] = a.severity.value
    body["count"] = a.count
    body["time"] = to_iso(a.time)
    if a.count > 1:  # the spec: "only present when count is greater than 1"
        body["firstOccurrenceTime"] = to_iso(a.first_occurrence_time)
    return _fragments(body, a.fragments)


# -- operations -----------------------------------------------------------------------------------


def _operation(op: Operation, head: Json) -> Json:
    """The fields every rendering of an operation has, `head` (REST's `self`) right after the id."""
    return {
        "id": str(op.id),
        **head,
        "deviceId": str(op.device_id),
        "status": op.status.value,
        "creationTime": to_iso(op.creation_time),
    }


def operation(base: str, op: Operation) -> Json:
    """An operation as REST and the real-time notifications show it: its fragments (description included)
    inline."""
    body = _operation(op, {"self": operation_url(base, op.id)})
    if op.failure_reason is not None:
        body["failureReason"] = op.failure_reason
    if op.bulk_operation_id is not None:
        body["bulkOperationId"] = str(op.bulk_operation_id)
    return _fragments(body, op.fragments)


def device_operation(op: Operation, xid: str) -> Json:
    """An operation as JSON via MQTT shows it to a device (devicecontrol/notifications): with the external
    id of the device it is for (`externalSource`), so an agent knows which child executes it, and the
    agent's id."""
    body = _operation(op, {})
    body["externalSource"] = {"externalId": xid, "type": "c8y_Serial"}
    if op.agent_id is not None:
        body["agentId"] = str(op.agent_id)
    return _fragments(body, op.fragments)
