"""/user/inventoryroles and /user/{tenant}/users/{user}/roles/inventory: inventory roles and their
assignment to users on managed objects (ROLE_USER_MANAGEMENT_READ; changes: _ADMIN)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, path_id, read_json_object
from tether.c8y import inventory_roles as wire

R = "user"


async def list_roles(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).inventory_roles.find(who, page_request(request, resource=R))
    items = [wire.role(base_url(request), r) for r in page.items]
    return json_response(request, collection(request, "roles", items, page), "inventoryRoleCollection")


async def create_role(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    role = await ctx(request).inventory_roles.create(who, wire.role_draft(document))
    body = wire.role(base_url(request), role)
    return json_response(request, body, "inventoryRole", 201, {"Location": body["self"]})


async def get_role(request: Request) -> Response:
    who = await authenticate(request)
    role_id = path_id(request, "id", resource=R, what="inventory role")
    role = await ctx(request).inventory_roles.get(who, role_id)
    return json_response(request, wire.role(base_url(request), role), "inventoryRole")


async def update_role(request: Request) -> Response:
    who = await authenticate(request)
    role_id = path_id(request, "id", resource=R, what="inventory role")
    document = await read_json_object(request, resource=R)
    service = ctx(request).inventory_roles
    role = await service.update(who, role_id, wire.role_draft(document, await service.get(who, role_id)))
    return json_response(request, wire.role(base_url(request), role), "inventoryRole")


async def delete_role(request: Request) -> Response:
    who = await authenticate(request)
    role_id = path_id(request, "id", resource=R, what="inventory role")
    await ctx(request).inventory_roles.delete(who, role_id)
    return Response(status_code=204)


def _user(request: Request) -> tuple[str, str]:
    return request.path_params["tenant"], request.path_params["user"]


async def list_assignments(request: Request) -> Response:
    who = await authenticate(request)
    tenant_id, username = _user(request)
    found = await ctx(request).inventory_roles.assignments(who, tenant_id, username)
    base = base_url(request)
    body = {
        "self": f"{base}/user/{tenant_id}/users/{username}/roles/inventory",
        "inventoryAssignments": [wire.assignment(base, tenant_id, a, roles) for a, roles in found],
    }
    return json_response(request, body, "inventoryAssignmentCollection")


async def assign(request: Request) -> Response:
    who = await authenticate(request)
    tenant_id, username = _user(request)
    document = await read_json_object(request, resource=R)
    made, roles = await ctx(request).inventory_roles.assign(
        who, tenant_id, username, wire.object_id(document), wire.role_ids(document)
    )
    body = wire.assignment(base_url(request), tenant_id, made, roles)
    return json_response(request, body, "inventoryAssignment", 200, {"Location": body["self"]})


async def get_assignment(request: Request) -> Response:
    who = await authenticate(request)
    tenant_id, username = _user(request)
    assignment_id = path_id(request, "id", resource=R, what="inventory assignment")
    found, roles = await ctx(request).inventory_roles.assignment(who, tenant_id, username, assignment_id)
    return json_response(
        request, wire.assignment(base_url(request), tenant_id, found, roles), "inventoryAssignment"
    )


async def update_assignment(request: Request) -> Response:
    who = await authenticate(request)
    tenant_id, username = _user(request)
    assignment_id = path_id(request, "id", resource=R, what="inventory assignment")
    document = await read_json_object(request, resource=R)
    found, roles = await ctx(request).inventory_roles.reassign(
        who, tenant_id, username, assignment_id, wire.role_ids(document)
    )
    return json_response(
        request, wire.assignment(base_url(request), tenant_id, found, roles), "inventoryAssignment"
    )


async def delete_assignment(request: Request) -> Response:
    who = await authenticate(request)
    tenant_id, username = _user(request)
    assignment_id = path_id(request, "id", resource=R, what="inventory assignment")
    await ctx(request).inventory_roles.unassign(who, tenant_id, username, assignment_id)
    return Response(status_code=204)


_ASSIGNMENTS = "/user/{tenant}/users/{user}/roles/inventory"
routes = [
    Route("/user/inventoryroles", list_roles, methods=["GET"]),
    Route("/user/inventoryroles", create_role, methods=["POST"]),
    Route("/user/inventoryroles/{id}", get_role, methods=["GET"]),
    Route("/user/inventoryroles/{id}", update_role, methods=["PUT"]),
    Route("/user/inventoryroles/{id}", delete_role, methods=["DELETE"]),
    Route(_ASSIGNMENTS, list_assignments, methods=["GET"]),
    Route(_ASSIGNMENTS, assign, methods=["POST"]),
    Route(_ASSIGNMENTS + "/{id}", get_assignment, methods=["GET"]),
    Route(_ASSIGNMENTS + "/{id}", update_assignment, methods=["PUT"]),
    Route(_ASSIGNMENTS + "/{id}", delete_assignment, methods=["DELETE"]),
]
