"""/api/v5/publish and /api/v5/publish/bulk: an operator publishes to its tenant's topics, in EMQX 5's shapes
(emqx_mgmt_api_publish; docs/protocols.md section 8). Broker-facing work: adapters/publish.py.

* body `{topic, payload, payload_encoding: plain|base64, qos, retain, properties: {payload_format_indicator,
  message_expiry_interval, response_topic, correlation_data, user_properties: {k: v}, content_type}}`;
* 200 `{id}` when at least one subscriber got it, 202 `{reason_code: 16, message: no_matching_subscribers}`
  when none did; 400 `{reason_code, message}` for 144 topic_name_invalid, 151 packet_too_large and 131 (bad
  base64, ...); a body that does not fit the schema is 400 `{code: BAD_REQUEST, message}`;
* bulk: an array of such bodies, all checked before any is published (one invalid message: the single
  message's 400 for the whole call); 200 when every message reached a subscriber, else 202; the body is the
  array of per-message results.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.adapters.publish import Outgoing, PublishRefused, check, message_id, publish
from tether.api.context import ctx
from tether.api.emqx.common import caller, json, read_json, read_object
from tether.api.emqx.errors import R
from tether.core.errors import BadRequest
from tether.credentials.models import require_admin
from tether.mqtt.properties import EMPTY_PROPERTIES, Properties
from tether.mqtt.reason_codes import ReasonCode
from tether.tenants.models import Principal

_FIELDS = frozenset({"topic", "payload", "payload_encoding", "qos", "retain", "properties", "clientid"})
_NO_SUBSCRIBERS = {
    "reason_code": int(ReasonCode.NO_MATCHING_SUBSCRIBERS),
    "message": "no_matching_subscribers",
}
_U32 = 2**32 - 1


def _bad(message: str) -> BadRequest:
    return BadRequest(message, resource=R)


def _int(document: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int | None:
    value = document.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"'{name}' must be an integer from {low} to {high}")
    return value


def _str(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is not None and not isinstance(value, str):
        raise _bad(f"'{name}' must be a string")
    return value


def _properties(raw: Any) -> Properties:
    if raw is None:
        return EMPTY_PROPERTIES
    if not isinstance(raw, dict):
        raise _bad("'properties' must be an object")
    unknown = set(raw) - {
        "payload_format_indicator",
        "message_expiry_interval",
        "response_topic",
        "correlation_data",
        "user_properties",
        "content_type",
    }
    if unknown:
        raise _bad(f"Unknown properties: {', '.join(sorted(unknown))}")
    user = raw.get("user_properties") or {}
    if not isinstance(user, dict) or not all(isinstance(v, str) for v in user.values()):
        raise _bad("'user_properties' must be an object of strings")
    correlation = _str(raw, "correlation_data")
    return Properties(
        payload_format_indicator=_int(raw, "payload_format_indicator", 0, 1, None),
        message_expiry_interval=_int(raw, "message_expiry_interval", 0, _U32, None),
        response_topic=_str(raw, "response_topic"),
        correlation_data=None if correlation is None else correlation.encode(),
        user_properties=tuple(user.items()),
        content_type=_str(raw, "content_type"),
    )


def _payload(document: dict[str, Any], encoding: str) -> bytes:
    text = document["payload"]
    if encoding == "plain":
        return str(text).encode()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PublishRefused(ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, "invalid_base64_payload") from exc


def parse_message(document: Any) -> Outgoing:
    """One message of the body: BadRequest when it does not fit the schema, PublishRefused when it cannot be
    published (131: bad base64, a payload that is not UTF-8 with payload_format_indicator 1)."""
    if not isinstance(document, dict):
        raise _bad("Each message must be an object")
    unknown = set(document) - _FIELDS
    if unknown:
        raise _bad(f"Unknown fields: {', '.join(sorted(unknown))}")
    for name in ("topic", "payload"):
        if name not in document:
            raise _bad(f"Missing required parameter: {name}")
    topic = document["topic"]
    if not isinstance(topic, str) or not isinstance(document["payload"], str):
        raise _bad("'topic' and 'payload' must be strings")
    encoding = document.get("payload_encoding", "plain")
    if encoding not in ("plain", "base64"):
        raise _bad("'payload_encoding' must be plain or base64")
    retain = document.get("retain", False)
    if not isinstance(retain, bool):
        raise _bad("'retain' must be true or false")
    qos = _int(document, "qos", 0, 2, 0)
    assert qos is not None
    properties = _properties(document.get("properties"))
    payload = _payload(document, encoding)
    if properties.payload_format_indicator == 1:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:  # spec 3.3.2.3.2
            raise PublishRefused(
                ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR, "payload_format_indicator_mismatch"
            ) from exc
    return Outgoing(topic, payload, qos, retain, properties)


def _refused(exc: PublishRefused) -> Response:
    return json({"reason_code": int(exc.reason_code), "message": exc.message}, 400)


async def operator(request: Request) -> Principal:
    """An administrator or API key of the tenant (403 UNAUTHORIZED_ROLE for its devices)."""
    who = await caller(request)
    require_admin(who)
    return who


async def publish_one(request: Request) -> Response:
    who = await operator(request)
    document = await read_object(request)
    broker = ctx(request).broker.broker
    try:
        message = parse_message(document)
        check(broker, message)
    except PublishRefused as exc:
        return _refused(exc)
    if publish(broker, who.tenant_id, message) == 0:
        return json(_NO_SUBSCRIBERS, 202)
    return json({"id": message_id()})


async def publish_bulk(request: Request) -> Response:
    who = await operator(request)
    document = await read_json(request)
    if not isinstance(document, list):
        raise _bad("The body must be an array of messages")
    broker = ctx(request).broker.broker
    try:
        messages = [parse_message(item) for item in document]
        for message in messages:
            check(broker, message)
    except PublishRefused as exc:
        return _refused(exc)
    results: list[dict[str, Any]] = []
    for message in messages:
        reached = publish(broker, who.tenant_id, message)
        results.append({"id": message_id()} if reached else dict(_NO_SUBSCRIBERS))
    unmatched = any("reason_code" in result for result in results)
    return json(results, 202 if unmatched else 200)


routes = [
    Route("/publish", publish_one, methods=["POST"]),
    Route("/publish/bulk", publish_bulk, methods=["POST"]),
]
