"""/user: users, groups, global roles and the current user (Cumulocity's user API)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, path_id, read_json_object
from tether.api.permissions import admitted
from tether.c8y import users as render
from tether.core.errors import InvalidInput, NotFound
from tether.core.paging import Page
from tether.registration.retirement import is_device_user
from tether.tenants.directory import check_password, role_names, user_fields
from tether.tenants.models import UserCriteria
from tether.tenants.permissions import GLOBAL_ROLES, effective_roles

R = "user"


def _tenant(request: Request) -> str:
    return str(request.path_params["tenant"])


def _name(request: Request, key: str = "user") -> str:
    return str(request.path_params[key])


def _group_id(request: Request) -> int:
    return path_id(request, "group", resource=R, what="group")


def _referenced(document: dict[str, Any], key: str, *ids: str) -> str:
    """The name in `{"<key>": {"id": ...}}` or `{"<key>": {"self": ".../<name>"}}`."""
    target = document.get(key)
    if isinstance(target, dict):
        for field in ids:
            if isinstance(target.get(field), str | int) and str(target[field]):
                return str(target[field])
        if isinstance(target.get("self"), str) and target["self"].strip("/"):
            return str(target["self"]).rstrip("/").rsplit("/", 1)[-1]
    raise InvalidInput(f'Expected {{"{key}": {{"self": "<url>"}}}}', resource=R)


# ------------------------------------------------------------------------------------------------ roles


async def list_roles(request: Request) -> Response:
    await authenticate(request)
    page = role_names(page_request(request, resource=R))
    base = base_url(request)
    items = [render.role(base, name) for name in page.items]
    return json_response(request, collection(request, "roles", items, page), "roleCollection")


async def get_role(request: Request) -> Response:
    await authenticate(request)
    name = _name(request, "name")
    if name not in GLOBAL_ROLES:
        raise NotFound(f"Role {name} not found", resource=R)
    return json_response(request, render.role(base_url(request), name), "role")


# ------------------------------------------------------------------------------------------------ users


async def list_users(request: Request) -> Response:
    who = await authenticate(request)
    params = request.query_params
    groups = None
    if params.get("groups"):
        parsed = [g.strip() for g in params["groups"].split(",") if g.strip()]
        if not all(g.isdigit() for g in parsed):
            raise InvalidInput("'groups' must be a comma-separated list of group ids", resource=R)
        groups = tuple(int(g) for g in parsed)
    criteria = UserCriteria(
        username=params.get("username") or None,
        groups=groups,
        only_devices=params.get("onlyDevices", "").lower() == "true",
    )
    directory = ctx(request).users
    page = await directory.find(who, _tenant(request), criteria, page_request(request, resource=R))
    base = base_url(request)
    items = [render.user(base, u, await directory.groups_of(u.tenant_id, u.username)) for u in page.items]
    return json_response(request, collection(request, "users", items, page), "userCollection")


async def _user_response(request: Request, tenant: str, name: str, status: int = 200) -> Response:
    who = await authenticate(request)
    directory = ctx(request).users
    user = await directory.get(who, tenant, name)
    body = render.user(base_url(request), user, await directory.groups_of(tenant, name))
    headers = {"Location": body["self"]} if status == 201 else None
    return json_response(request, body, "user", status, headers)


async def create_user(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    tenant = _tenant(request)
    user = await ctx(request).users.create(
        who, tenant, document.get("userName"), document.get("password"), user_fields(document)
    )
    return await _user_response(request, tenant, user.username, 201)


async def get_user(request: Request) -> Response:
    return await _user_response(request, _tenant(request), _name(request))


async def user_by_name(request: Request) -> Response:
    return await _user_response(request, _tenant(request), _name(request, "name"))


async def update_user(request: Request) -> Response:
    """Fields, the enabled flag (a disabled user's sessions end) and, if given, the password."""
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    tenant, name = _tenant(request), _name(request)
    directory = ctx(request).users
    fields = user_fields(document)
    password = check_password(document["password"]) if "password" in document else None  # all or nothing
    await directory.update(who, tenant, name, fields)
    if password is not None:
        await directory.set_password(who, tenant, name, password)
    return await _user_response(request, tenant, name)


async def set_user_password(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    await ctx(request).users.set_password(who, _tenant(request), _name(request), document.get("newPassword"))
    return Response(status_code=200)


async def delete_user(request: Request) -> Response:
    """A device user's deletion retires its device (the object goes with it, as withDeviceUser does)."""
    who = await authenticate(request)
    tenant, name = _tenant(request), _name(request)
    context = ctx(request)
    user = await context.users.deletable(who, tenant, name)
    if is_device_user(user):
        # its device goes too: the caller needs the inventory's admin role as well
        await context.retirement.retire_user(admitted(who, "DELETE", "/inventory/managedObjects"), user)
    else:
        await context.users.delete(who, tenant, name)
    return Response(status_code=204)


async def user_groups(request: Request) -> Response:
    who = await authenticate(request)
    tenant, name = _tenant(request), _name(request)
    directory = ctx(request).users
    await directory.get(who, tenant, name)
    groups = await directory.groups_of(tenant, name)
    page = page_request(request, resource=R)
    shown = groups[page.offset : page.offset + page.page_size]
    base = base_url(request)
    items = [render.group_reference(base, g) for g in shown]
    return json_response(
        request,
        collection(request, "references", items, Page(shown, page, len(groups))),
        "groupReferenceCollection",
    )


async def assign_user_role(request: Request) -> Response:
    who = await authenticate(request)
    role = _referenced(await read_json_object(request, resource=R), "role", "id", "name")
    tenant, name = _tenant(request), _name(request)
    await ctx(request).users.assign_role(who, tenant, name, role)
    base = base_url(request)
    return json_response(
        request, render.role_reference(base, render.user_url(base, tenant, name), role), "roleReference", 201
    )


async def unassign_user_role(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).users.unassign_role(who, _tenant(request), _name(request), _name(request, "role"))
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------ groups


async def list_groups(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).users.groups(who, _tenant(request), page_request(request, resource=R))
    base = base_url(request)
    items = [render.group(base, g) for g in page.items]
    return json_response(request, collection(request, "groups", items, page), "groupCollection")


async def create_group(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    group = await ctx(request).users.create_group(who, _tenant(request), document)
    body = render.group(base_url(request), group)
    return json_response(request, body, "group", 201, {"Location": body["self"]})


async def get_group(request: Request) -> Response:
    who = await authenticate(request)
    group = await ctx(request).users.group(who, _tenant(request), _group_id(request))
    return json_response(request, render.group(base_url(request), group), "group")


async def group_by_name(request: Request) -> Response:
    who = await authenticate(request)
    group = await ctx(request).users.group_by_name(who, _tenant(request), _name(request, "name"))
    return json_response(request, render.group(base_url(request), group), "group")


async def update_group(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    group = await ctx(request).users.update_group(who, _tenant(request), _group_id(request), document)
    return json_response(request, render.group(base_url(request), group), "group")


async def delete_group(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).users.delete_group(who, _tenant(request), _group_id(request))
    return Response(status_code=204)


async def group_roles(request: Request) -> Response:
    who = await authenticate(request)
    group = await ctx(request).users.group(who, _tenant(request), _group_id(request))
    names = sorted(group.roles)
    page = page_request(request, resource=R)
    shown = names[page.offset : page.offset + page.page_size]
    base = base_url(request)
    url = render.group_url(base, group.tenant_id, group.id)
    items = [render.role_reference(base, url, r) for r in shown]
    return json_response(
        request,
        collection(request, "references", items, Page(shown, page, len(names))),
        "roleReferenceCollection",
    )


async def add_group_role(request: Request) -> Response:
    who = await authenticate(request)
    role = _referenced(await read_json_object(request, resource=R), "role", "id", "name")
    group = await ctx(request).users.add_group_role(who, _tenant(request), _group_id(request), role)
    base = base_url(request)
    body = render.role_reference(base, render.group_url(base, group.tenant_id, group.id), role)
    return json_response(request, body, "roleReference", 201)


async def remove_group_role(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).users.remove_group_role(
        who, _tenant(request), _group_id(request), _name(request, "role")
    )
    return Response(status_code=204)


async def group_members(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).users.members(
        who, _tenant(request), _group_id(request), page_request(request, resource=R)
    )
    base = base_url(request)
    items = [render.user_reference(base, u) for u in page.items]
    return json_response(request, collection(request, "references", items, page), "userReferenceCollection")


async def add_group_member(request: Request) -> Response:
    who = await authenticate(request)
    name = _referenced(await read_json_object(request, resource=R), "user", "userName", "id")
    user = await ctx(request).users.add_member(who, _tenant(request), _group_id(request), name)
    return json_response(request, render.user_reference(base_url(request), user), "userReference", 201)


async def remove_group_member(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).users.remove_member(who, _tenant(request), _group_id(request), _name(request))
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ current user


async def current_user(request: Request) -> Response:
    who = await authenticate(request)
    directory = ctx(request).users
    base = base_url(request)
    user = (
        await directory.get(who, who.tenant_id, who.username)
        if not who.username.startswith("apikey:")
        else None
    )
    body: dict[str, Any] = (
        render.user(base, user, await directory.groups_of(who.tenant_id, who.username))
        if user is not None
        else {"id": who.username, "userName": who.username, "shouldResetPassword": False}
    )
    body["self"] = f"{base}/user/currentUser"
    body["effectiveRoles"] = [render.role(base, r) for r in effective_roles(who)]
    return json_response(request, body, "currentUser")


async def update_current_user(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    await ctx(request).users.update_own(who, user_fields(document))
    return await current_user(request)


async def current_user_password(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R)
    await ctx(request).users.change_own_password(
        who, document.get("currentUserPassword"), document.get("newPassword")
    )
    return Response(status_code=200)


_USERS = "/user/{tenant}/users"
_GROUPS = "/user/{tenant}/groups"
routes = [
    Route("/user/currentUser", current_user, methods=["GET"]),
    Route("/user/currentUser", update_current_user, methods=["PUT"]),
    Route("/user/currentUser/password", current_user_password, methods=["PUT"]),
    Route("/user/roles", list_roles, methods=["GET"]),
    Route("/user/roles/{name}", get_role, methods=["GET"]),
    Route(_USERS, list_users, methods=["GET"]),
    Route(_USERS, create_user, methods=["POST"]),
    Route(_USERS + "/{user}", get_user, methods=["GET"]),
    Route(_USERS + "/{user}", update_user, methods=["PUT"]),
    Route(_USERS + "/{user}", delete_user, methods=["DELETE"]),
    Route(_USERS + "/{user}/password", set_user_password, methods=["PUT"]),
    Route(_USERS + "/{user}/groups", user_groups, methods=["GET"]),
    Route(_USERS + "/{user}/roles", assign_user_role, methods=["POST"]),
    Route(_USERS + "/{user}/roles/{role}", unassign_user_role, methods=["DELETE"]),
    Route("/user/{tenant}/userByName/{name}", user_by_name, methods=["GET"]),
    Route("/user/{tenant}/groupByName/{name}", group_by_name, methods=["GET"]),
    Route(_GROUPS, list_groups, methods=["GET"]),
    Route(_GROUPS, create_group, methods=["POST"]),
    Route(_GROUPS + "/{group}", get_group, methods=["GET"]),
    Route(_GROUPS + "/{group}", update_group, methods=["PUT"]),
    Route(_GROUPS + "/{group}", delete_group, methods=["DELETE"]),
    Route(_GROUPS + "/{group}/roles", group_roles, methods=["GET"]),
    Route(_GROUPS + "/{group}/roles", add_group_role, methods=["POST"]),
    Route(_GROUPS + "/{group}/roles/{role}", remove_group_role, methods=["DELETE"]),
    Route(_GROUPS + "/{group}/users", group_members, methods=["GET"]),
    Route(_GROUPS + "/{group}/users", add_group_member, methods=["POST"]),
    Route(_GROUPS + "/{group}/users/{user}", remove_group_member, methods=["DELETE"]),
]
