"""/tenant/tenants/{tenantId}/trusted-certificates with httpx, on both backends (Cumulocity's
TrustedCertificate shape; errors in Cumulocity's error body)."""

from __future__ import annotations

import hashlib
import ssl

import httpx
from cryptography.hazmat.primitives import serialization
from tests.adapters.certs import make_ca, make_leaf, make_self_signed_leaf
from tests.support import ServerThread, unique

CERTS = "/tenant/tenants/t1/trusted-certificates"


def fingerprint(issued) -> str:
    return hashlib.sha1(issued.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def body_of(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def test_upload_list_get_update_delete(admin: httpx.Client) -> None:
    ca = make_ca(unique("Acme CA "), organization="Acme")
    created = admin.post(
        CERTS,
        json={
            "name": "Acme devices",
            "certInPemFormat": ca.pem,
            "status": "ENABLED",
            "autoRegistrationEnabled": True,
        },
    )
    assert created.status_code == 201
    cert = created.json()
    fp = fingerprint(ca)
    assert cert["fingerprint"] == fp
    assert created.headers["location"] == cert["self"]
    assert cert["self"].endswith(f"{CERTS}/{fp}")
    assert (
        cert["name"] == "Acme devices"
        and cert["status"] == "ENABLED"
        and cert["autoRegistrationEnabled"] is True
    )
    common_name = ca.cert.subject.rfc4514_string().split(",")[0]  # "CN=..."
    assert cert["subject"] == f"{common_name}, O=Acme, C=DE" == cert["issuer"]
    assert cert["serialNumber"] == str(ca.cert.serial_number)
    assert cert["version"] == 3
    assert cert["notBefore"].endswith("Z") and cert["notAfter"] > cert["notBefore"]
    assert "".join(cert["certInPemFormat"].split()) == body_of(ca.pem)
    assert admin.get(f"{CERTS}/{fp}").json() == cert
    assert admin.get(f"{CERTS}/{fp.upper()}").json()["fingerprint"] == fp
    listed = admin.get(CERTS, params={"pageSize": 100}).json()
    assert fp in [c["fingerprint"] for c in listed["certificates"]]
    assert listed["statistics"]["pageSize"] == 100
    updated = admin.put(
        f"{CERTS}/{fp}", json={"status": "DISABLED", "autoRegistrationEnabled": False, "name": "Old"}
    )
    assert updated.status_code == 200
    assert (updated.json()["status"], updated.json()["autoRegistrationEnabled"], updated.json()["name"]) == (
        "DISABLED",
        False,
        "Old",
    )
    assert admin.delete(f"{CERTS}/{fp}").status_code == 204
    missing = admin.get(f"{CERTS}/{fp}")
    assert missing.status_code == 404 and missing.json()["error"] == "tenant/Not Found"
    assert admin.delete(f"{CERTS}/{fp}").status_code == 404


def test_bare_base64_is_accepted(admin: httpx.Client) -> None:
    """Cumulocity clients often send the certificate body without its BEGIN/END lines."""
    ca = make_ca(unique("Bare CA "))
    created = admin.post(CERTS, json={"name": "bare", "certInPemFormat": body_of(ca.pem)})
    assert created.status_code == 201
    assert created.json()["fingerprint"] == fingerprint(ca)
    assert created.json()["status"] == "ENABLED" and created.json()["autoRegistrationEnabled"] is False


def test_errors(admin: httpx.Client, server: ServerThread) -> None:
    ca_name = unique("Dup CA ")
    ca = make_ca(ca_name)
    assert admin.post(CERTS, json={"name": "one", "certInPemFormat": ca.pem}).status_code == 201
    duplicate = admin.post(CERTS, json={"name": "two", "certInPemFormat": ca.pem})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "tenant/Conflict"
    two = make_ca(unique("Two "))
    cases = [
        {"name": "x"},
        {"name": "x", "certInPemFormat": "not a certificate"},
        {"name": "x", "certInPemFormat": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
        {"name": "x", "certInPemFormat": make_self_signed_leaf("not-a-ca").pem},  # not a CA
        {"name": "x", "certInPemFormat": make_leaf(ca, "device").pem},
        {"name": "x", "certInPemFormat": two.pem + make_ca("Three").pem},  # one at a time
        {"certInPemFormat": two.pem},
        {"name": "x", "certInPemFormat": two.pem, "status": "MAYBE"},
        {"name": "x", "certInPemFormat": two.pem, "autoRegistrationEnabled": "yes"},
    ]
    for body in cases:
        response = admin.post(CERTS, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"] == "tenant/Unprocessable Entity"
    # Another tenant's certificates are not reachable, and a CA of the same subject cannot be trusted by two
    # tenants (a device certificate's issuer must name one tenant).
    from tether.tenants.models import Role

    tenant = unique("t")
    server.call(server.platform.services.tenants.create_tenant(tenant))
    server.call(server.platform.services.tenants.create_user(tenant, "boss", "boss-pw", {Role.ADMIN}))
    with httpx.Client(base_url=server.url, auth=(f"{tenant}/boss", "boss-pw")) as other:
        assert other.get(CERTS).status_code == 403
        assert other.get(f"{CERTS}/{fingerprint(ca)}").status_code == 403
        mine = f"/tenant/tenants/{tenant}/trusted-certificates"
        assert other.get(mine).json()["certificates"] == []
        same_subject = make_ca(
            ca.cert.subject.get_attributes_for_oid(ca.cert.subject.rdns[-1]._attributes[0].oid)[0].value
        )
        refused = other.post(mine, json={"name": "copy", "certInPemFormat": same_subject.pem})
        assert refused.status_code == 409
    assert httpx.get(server.url + CERTS).status_code == 401


def test_pem_round_trip_loads_in_ssl(admin: httpx.Client) -> None:
    ca = make_ca(unique("Round CA "))
    cert = admin.post(CERTS, json={"name": "rt", "certInPemFormat": ca.pem}).json()
    pem = "-----BEGIN CERTIFICATE-----\n" + cert["certInPemFormat"] + "\n-----END CERTIFICATE-----\n"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=pem)
    assert context.cert_store_stats()["x509_ca"] == 1
