"""/tenant/tenants/{tenantId}/trusted-certificates[/{fingerprint}]: the CA certificates a tenant trusts for
device certificates (Cumulocity OpenAPI `TrustedCertificate`). A tenant's administrators manage its own."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tether.api.auth import authenticate
from tether.api.context import ctx
from tether.api.http import base_url, collection, json_response, page_request, read_json_object
from tether.core.clock import to_iso
from tether.core.errors import InvalidInput
from tether.credentials.certificates import format_dn, pem_body
from tether.credentials.models import R_CERT, CertificateStatus, TrustedCertificate

BASE = "/tenant/tenants/{tenant_id}/trusted-certificates"


def render(base: str, cert: TrustedCertificate) -> dict[str, Any]:
    tenant = quote(cert.tenant_id, safe="")
    return {
        "self": f"{base}/tenant/tenants/{tenant}/trusted-certificates/{cert.fingerprint}",
        "fingerprint": cert.fingerprint,
        "name": cert.name,
        "status": cert.status.value,
        "autoRegistrationEnabled": cert.auto_registration,
        "certInPemFormat": pem_body(cert.cert_pem),
        "subject": format_dn(cert.subject),
        "issuer": format_dn(cert.issuer),
        "serialNumber": str(int(cert.serial_number, 16)) if cert.serial_number else "",
        "notBefore": to_iso(cert.not_before),
        "notAfter": to_iso(cert.not_after),
        "version": cert.version,
        "algorithmName": "",
    }


def _status(document: dict[str, Any], default: CertificateStatus | None) -> CertificateStatus | None:
    raw = document.get("status")
    if raw is None:
        return default
    try:
        return CertificateStatus(str(raw).upper())
    except ValueError:
        raise InvalidInput("'status' must be ENABLED or DISABLED", resource=R_CERT) from None


def _flag(document: dict[str, Any], key: str) -> bool | None:
    raw = document.get(key)
    if raw is not None and not isinstance(raw, bool):
        raise InvalidInput(f"'{key}' must be true or false", resource=R_CERT)
    return raw


def _name(document: dict[str, Any], required: bool) -> str | None:
    raw = document.get("name")
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 255:
        raise InvalidInput("'name' is required: 1 to 255 characters", resource=R_CERT)
    return raw


async def create(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R_CERT)
    pem = document.get("certInPemFormat")
    if not isinstance(pem, str) or not pem.strip():
        raise InvalidInput("'certInPemFormat' is required", resource=R_CERT)
    name = _name(document, required=True)
    assert name is not None
    cert = await ctx(request).certificates.create(
        who,
        request.path_params["tenant_id"],
        name=name,
        pem=pem,
        status=_status(document, CertificateStatus.ENABLED) or CertificateStatus.ENABLED,
        auto_registration=_flag(document, "autoRegistrationEnabled") or False,
    )
    body = render(base_url(request), cert)
    return json_response(request, body, "trustedCertificate", 201, {"Location": body["self"]})


async def list_all(request: Request) -> Response:
    who = await authenticate(request)
    page = await ctx(request).certificates.list_certificates(
        who, request.path_params["tenant_id"], page_request(request, resource=R_CERT)
    )
    base = base_url(request)
    items = [render(base, c) for c in page.items]
    return json_response(
        request, collection(request, "certificates", items, page), "trustedCertificateCollection"
    )


async def get_one(request: Request) -> Response:
    who = await authenticate(request)
    cert = await ctx(request).certificates.get(
        who, request.path_params["tenant_id"], request.path_params["fingerprint"]
    )
    return json_response(request, render(base_url(request), cert), "trustedCertificate")


async def update(request: Request) -> Response:
    who = await authenticate(request)
    document = await read_json_object(request, resource=R_CERT)
    cert = await ctx(request).certificates.update(
        who,
        request.path_params["tenant_id"],
        request.path_params["fingerprint"],
        name=_name(document, required=False),
        status=_status(document, None),
        auto_registration=_flag(document, "autoRegistrationEnabled"),
    )
    return json_response(request, render(base_url(request), cert), "trustedCertificate")


async def delete(request: Request) -> Response:
    who = await authenticate(request)
    await ctx(request).certificates.delete(
        who, request.path_params["tenant_id"], request.path_params["fingerprint"]
    )
    return Response(status_code=204)


routes = [
    Route(BASE, list_all, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    Route(BASE + "/{fingerprint}", get_one, methods=["GET"]),
    Route(BASE + "/{fingerprint}", update, methods=["PUT"]),
    Route(BASE + "/{fingerprint}", delete, methods=["DELETE"]),
]
