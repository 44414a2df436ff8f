"""Request and response plumbing shared by the routers: bodies, media types, paging, links."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tether.api.context import ctx
from tether.core.errors import (
    BadRequest,
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from tether.core.ids import parse_id, parse_int
from tether.core.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest
from tether.core.values import MAX_DEPTH

VENDOR_PREFIX = "application/vnd.com.nsn.cumulocity."
OFF_LOOP_BODY_SIZE = 32 * 1024  # bodies larger than this are parsed in a worker thread
#: Nesting of objects and arrays in a request body: what a fragment may hold (core.values.MAX_DEPTH, the same
#: rule on every protocol) plus the envelope of a collection (`{measurements: [{fragment: ...}]}`).
MAX_JSON_DEPTH = MAX_DEPTH + 4


class UnsupportedMediaType(DomainError):
    kind = "Unsupported Media Type"


def retry_after(response: Response, exc: DomainError) -> Response:
    """RFC 9110 section 10.2.3: a 429 says when to come back (every API family's error body)."""
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def read_json(request: Request, *, resource: str, walk_depth: bool = True) -> Any:
    """The body as JSON, within the configured size and MAX_JSON_DEPTH; anything else is a 4xx. Every JSON
    body of every API family is read here. `walk_depth=False` skips the nesting walk where the caller's
    service walks every nested value under core.values.MAX_DEPTH (core.values.clean) before anything
    recursive touches it, and reads the rest of the body without recursion (measurements: the walk was
    ~5% of a collection's CPU); orjson refuses more than 1024 levels itself."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type and "json" not in content_type:
        raise UnsupportedMediaType(
            f"Content type {content_type!r} is not supported; send JSON", resource=resource
        )
    limit = ctx(request).settings.max_body_size
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes", resource=resource)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes", resource=resource)
    if not body.strip():
        raise BadRequest("A JSON body is required", resource=resource)
    if b"\\u0000" in body:  # JSON may escape NUL, but no string we store may hold one (PostgreSQL text)
        raise InvalidInput("Strings must not contain the NUL character (\\u0000)", resource=resource)
    try:  # a large body is parsed and walked off the event loop
        if len(body) > OFF_LOOP_BODY_SIZE:
            document, deep = await asyncio.to_thread(_parse, bytes(body), walk_depth)
        else:
            document, deep = _parse(body, walk_depth)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}", resource=resource) from None
    if deep:
        raise InvalidInput(
            f"The body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep", resource=resource
        )
    return document


async def read_json_object(request: Request, *, resource: str, walk_depth: bool = True) -> dict[str, Any]:
    """The body as a JSON object (see read_json)."""
    document = await read_json(request, resource=resource, walk_depth=walk_depth)
    if not isinstance(document, dict):
        raise InvalidInput("The body must be a JSON object", resource=resource)
    return document


def _parse(body: bytes | bytearray, walk_depth: bool = True) -> tuple[Any, bool]:
    document = orjson.loads(body)
    return document, walk_depth and _nested_deeper(document, MAX_JSON_DEPTH)


def _nested_deeper(document: Any, limit: int) -> bool:
    """Whether objects/arrays nest more than `limit` levels; iterative, as the code that walks documents
    later (NUL checks, rendering, storage) may recurse. Level by level, without a tuple or a generator per
    value (this walk was ~7% of the CPU of a 100-measurement POST)."""
    level = [document] if isinstance(document, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for value in level:
            for child in value.values() if type(value) is dict else value:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
    return False


def json_response(
    request: Request, body: Any, media: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON in the vendor media type when the client asked for vendor types, else application/json."""
    return json_text_response(request, orjson.dumps(body), media, status, headers)


def json_text_response(
    request: Request, content: bytes, media: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """As json_response, of a body already encoded as JSON."""
    accept = request.headers.get("accept", "")
    if VENDOR_PREFIX in accept.lower():
        media_type = f"{VENDOR_PREFIX}{media}+json;charset=UTF-8;ver=0.9"
    else:
        media_type = "application/json"
    return Response(content, status_code=status, media_type=media_type, headers=headers)


#: base_url's answers by what they depend on (starlette builds and splits a URL each time: ~4% of the CPU of
#: a single measurement POST); a few clients' Host headers, forgotten all at once past the bound.
_BASE_URLS: dict[tuple[Any, ...], str] = {}


def base_url(request: Request) -> str:
    """Scheme and host as the client used them, for `self` links."""
    scope = request.scope
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    key = (scope.get("scheme"), scope.get("server"), scope.get("app_root_path", scope.get("root_path")), host)
    found = _BASE_URLS.get(key)
    if found is None:
        if len(_BASE_URLS) >= 256:
            _BASE_URLS.clear()
        found = _BASE_URLS[key] = str(request.base_url).rstrip("/")
    return found


def query_flag(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def query_int(request: Request, name: str, *, resource: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    number = parse_int(value)
    if number is None:
        raise InvalidInput(
            f"Query parameter '{name}' must be a 64-bit integer, got {value!r}", resource=resource
        )
    return number


def page_request(request: Request, *, resource: str) -> PageRequest:
    current = query_int(request, "currentPage", resource=resource) or 1
    size = query_int(request, "pageSize", resource=resource)
    if size is None:
        size = DEFAULT_PAGE_SIZE
    if current < 1 or size < 1:
        raise InvalidInput("currentPage and pageSize must be positive", resource=resource)
    with_total = query_flag(request, "withTotalPages") or query_flag(request, "withTotalElements")
    return PageRequest(current_page=current, page_size=min(size, MAX_PAGE_SIZE), with_total=with_total)


def collection(request: Request, key: str, items: list[Any], page: Page[Any]) -> dict[str, Any]:
    """`{self, <key>: [...], statistics, prev, next}` as Cumulocity collections look."""
    # The other parameters are encoded once for the two or three links (urlencode was ~2% of a paged GET).
    others = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "currentPage"])
    prefix = f"{base_url(request)}{request.url.path}?{others + '&' if others else ''}currentPage="

    def link(current: int) -> str:
        return f"{prefix}{current}"

    statistics: dict[str, Any] = {
        "currentPage": page.request.current_page,
        "pageSize": page.request.page_size,
    }
    if page.total_elements is not None:
        if query_flag(request, "withTotalPages"):
            statistics["totalPages"] = page.total_pages
        if query_flag(request, "withTotalElements"):
            statistics["totalElements"] = page.total_elements
    body: dict[str, Any] = {"self": link(page.request.current_page), key: items, "statistics": statistics}
    if page.request.current_page > 1:
        body["prev"] = link(page.request.current_page - 1)
    if len(items) >= page.request.page_size:
        body["next"] = link(page.request.current_page + 1)
    return body


def path_id(request: Request, name: str, *, resource: str, what: str) -> int:
    """A numeric id from the path; anything else cannot name an object."""
    raw = request.path_params[name]
    value = parse_id(raw)
    if value is None:
        raise NotFound(f"No {what} for id '{raw}'!", resource=resource)
    return value
