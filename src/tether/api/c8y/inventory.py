"""/inventory/managedObjects and the child references under it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import (
    base_url,
    collection,
    json_response,
    page_request,
    path_id,
    query_flag,
    query_int,
    read_json_object,
)
from tether.c8y import documents, render
from tether.core.errors import BadRequest, InvalidInput, NotFound
from tether.core.ids import parse_id
from tether.inventory.models import ChildKind, InventoryCriteria, Relations
from tether.inventory.query import QueryError, parse_query

R = "inventory"


def criteria(request: Request) -> InventoryCriteria:
    """The filters of GET /inventory/managedObjects (also those of /inventory/binaries)."""
    params = request.query_params
    text = params.get("query") or params.get("q")
    try:
        query = parse_query(text) if text else None
    except QueryError as exc:
        raise BadRequest(f"Invalid query: {exc}", resource=R) from None
    ids = None
    if params.get("ids"):
        parsed = [parse_id(i.strip()) for i in params["ids"].split(",") if i.strip()]
        if None in parsed:
            raise InvalidInput("'ids' must be a comma-separated list of ids", resource=R)
        ids = tuple(i for i in parsed if i is not None)
    return InventoryCriteria(
        type=params.get("type") or None,
        fragment_type=params.get("fragmentType") or None,
        owner=params.get("owner") or None,
        text=params.get("text") or None,
        ids=ids,
        child_device_id=query_int(request, "childDeviceId", resource=R),
        only_roots=query_flag(request, "onlyRoots"),
        query=query,
    )


async def list_objects(request: Request) -> Response:
    who = await authenticate(request)
    inventory = ctx(request).inventory
    page = await inventory.find(who, criteria(request), page_request(request, resource=R))
    relations = (
        await inventory.relations(who, [mo.id for mo in page.items])
        if query_flag(request, "withChildren", True)
        else {}
    )
    base = base_url(request)
    items = [render.managed_object(base, mo, relations.get(mo.id)) for mo in page.items]
    return json_response(
        request, collection(request, "managedObjects", items, page), "managedObjectCollection"
    )


async def create_object(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    inventory = ctx(request).inventory
    mo = await inventory.create(who, documents.managed_object(document))
    # A new object has no references yet: its childDevices/childAssets/... are empty (no query for them).
    body = render.managed_object(base_url(request), mo, Relations())
    return json_response(request, body, "managedObject", 201, {"Location": body["self"]})


async def get_object(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="managedObject")
    mo, relations = await ctx(request).inventory.read(who, mo_id)
    return json_response(request, render.managed_object(base_url(request), mo, relations), "managedObject")


async def update_object(request: Request) -> Response:
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="managedObject")
    document = await read_json_object(request, resource=R)
    inventory = ctx(request).inventory
    mo = await inventory.update(who, mo_id, documents.managed_object_change(document))
    relations = (await inventory.relations(who, [mo_id]))[mo_id]
    return json_response(request, render.managed_object(base_url(request), mo, relations), "managedObject")


async def delete_object(request: Request) -> Response:
    """`cascade`, `forceCascade` and `withDeviceUser` (retire the device: its device user goes too)."""
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="managedObject")
    await ctx(request).retirement.delete(
        who,
        mo_id,
        cascade=query_flag(request, "cascade"),
        force=query_flag(request, "forceCascade"),
        with_device_user=query_flag(request, "withDeviceUser"),
    )
    return Response(status_code=204)


def _kind(request: Request) -> ChildKind:
    try:
        return ChildKind(request.path_params["kind"])
    except ValueError:
        raise NotFound(f"Unknown resource {request.url.path}", resource=R) from None


async def list_children(request: Request) -> Response:
    who = await authenticate(request)
    parent_id = path_id(request, "id", resource=R, what="managedObject")
    kind = _kind(request)
    page = await ctx(request).inventory.children(who, parent_id, kind, page_request(request, resource=R))
    base = base_url(request)
    refs = [render.reference(base, parent_id, kind, mo.id, mo.name, mo) for mo in page.items]
    return json_response(
        request, collection(request, "references", refs, page), "managedObjectReferenceCollection"
    )


def _referenced_id(document: dict[str, object]) -> int:
    """`{"managedObject": {"id": ...}}` or `{"managedObject": {"self": ".../managedObjects/<id>"}}`."""
    target = document.get("managedObject")
    if isinstance(target, dict):
        raw = target.get("id")
        if raw is None and isinstance(target.get("self"), str):
            raw = str(target["self"]).rstrip("/").rsplit("/", 1)[-1]
        value = parse_id(raw)
        if value is not None:
            return value
    raise InvalidInput('Expected {"managedObject": {"id": "<id>"}}', resource=R)


def _references(document: dict[str, object]) -> list[int]:
    """`{"references": [{"managedObject": {"id": ...}}, ...]}`: the ids, each once."""
    refs = document.get("references")
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise InvalidInput('Expected {"references": [{"managedObject": {"id": "<id>"}}]}', resource=R)
    return list(dict.fromkeys(_referenced_id(r) for r in refs))


async def add_child(request: Request) -> Response:
    """One reference, a collection of references, or a new managed object created and assigned at once
    (the three bodies Cumulocity's spec lists for POST of a child collection)."""
    who = await authenticate(request)
    parent_id = path_id(request, "id", resource=R, what="managedObject")
    kind = _kind(request)
    document = await read_json_object(request, resource=R)
    inventory = ctx(request).inventory
    base = base_url(request)
    if "references" in document:
        refs = []
        for child_id in _references(document):
            child = await inventory.add_child(who, parent_id, kind, child_id)
            refs.append(render.reference(base, parent_id, kind, child_id, child.name, child))
        body: dict[str, object] = {"self": f"{base}{request.url.path}", "references": refs}
        return json_response(request, body, "managedObjectReferenceCollection", 201)
    if isinstance(document.get("managedObject"), dict) and len(document) == 1:
        child_id = _referenced_id(document)
        child = await inventory.add_child(who, parent_id, kind, child_id)
    else:
        if "id" in document:  # an existing object's id without its wrapper: a mistake, not a new object
            raise InvalidInput(
                'A new child has no \'id\'; to assign an existing one send {"managedObject": {"id": ...}}',
                resource=R,
            )
        await inventory.get(who, parent_id)  # no orphan for a parent that is not there
        child = await inventory.create(who, documents.managed_object(document))
        child_id = child.id
        await inventory.add_child(who, parent_id, kind, child_id)
    ref = render.reference(base, parent_id, kind, child_id, child.name, child)
    return json_response(request, ref, "managedObjectReference", 201, {"Location": ref["self"]})


async def remove_children(request: Request) -> Response:
    """DELETE of a child collection with a body of references: unassign them all (each must be one)."""
    who = await authenticate(request)
    parent_id = path_id(request, "id", resource=R, what="managedObject")
    kind = _kind(request)
    ids = _references(await read_json_object(request, resource=R))
    inventory = ctx(request).inventory
    for child_id in ids:
        await inventory.get_child(who, parent_id, kind, child_id)
    for child_id in ids:
        await inventory.remove_child(who, parent_id, kind, child_id)
    return Response(status_code=204)


async def supported(request: Request) -> Response:
    """supportedMeasurements and supportedSeries, computed from the object's stored measurements."""
    who = await authenticate(request)
    mo_id = path_id(request, "id", resource=R, what="managedObject")
    await ctx(request).inventory.get(who, mo_id)
    pairs = await ctx(request).measurements.supported_series(who, mo_id)
    if request.url.path.rstrip("/").endswith("supportedSeries"):
        return json_response(
            request, {"c8y_SupportedSeries": [f"{f}.{s}" for f, s in pairs]}, "managedObject"
        )
    fragments = list(dict.fromkeys(f for f, _ in pairs))
    return json_response(request, {"c8y_SupportedMeasurements": fragments}, "managedObject")


async def get_child(request: Request) -> Response:
    who = await authenticate(request)
    parent_id = path_id(request, "id", resource=R, what="managedObject")
    child_id = path_id(request, "child", resource=R, what="managedObject")
    kind = _kind(request)
    child = await ctx(request).inventory.get_child(who, parent_id, kind, child_id)
    body = render.reference(base_url(request), parent_id, kind, child_id, child.name, child)
    return json_response(request, body, "managedObjectReference")


async def remove_child(request: Request) -> Response:
    who = await authenticate(request)
    parent_id = path_id(request, "id", resource=R, what="managedObject")
    child_id = path_id(request, "child", resource=R, what="managedObject")
    await ctx(request).inventory.remove_child(who, parent_id, _kind(request), child_id)
    return Response(status_code=204)


_ONE = "/inventory/managedObjects/{id}"
routes = [
    Route("/inventory/managedObjects", list_objects, methods=["GET"]),
    Route("/inventory/managedObjects", create_object, methods=["POST"]),
    Route(_ONE, get_object, methods=["GET"]),
    Route(_ONE, update_object, methods=["PUT"]),
    Route(_ONE, delete_object, methods=["DELETE"]),
    Route(_ONE + "/supportedMeasurements", supported, methods=["GET"]),
    Route(_ONE + "/supportedSeries", supported, methods=["GET"]),
    Route(_ONE + "/{kind}", list_children, methods=["GET"]),
    Route(_ONE + "/{kind}", remove_children, methods=["DELETE"]),
    Route(_ONE + "/{kind}", add_child, methods=["POST"]),
    Route(_ONE + "/{kind}/{child}", get_child, methods=["GET"]),
    Route(_ONE + "/{kind}/{child}", remove_child, methods=["DELETE"]),
]
