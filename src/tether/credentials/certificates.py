"""CA certificates a tenant trusts (Cumulocity `/tenant/tenants/{tenantId}/trusted-certificates`).

A device presenting a client certificate issued by one of them logs in on the TLS listener without a password,
as the device named by the certificate's common name. The TLS listener trusts the CAs of every tenant; the
certificate's issuer tells the tenant, so two tenants may not trust CAs of the same subject. Certificates are
read with the standard library's TLS module (the same parser that verifies the handshake), so a CA's
subject and a client certificate's issuer compare exactly, in ``getpeercert()`` form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from tether.core.clock import now_ms
from tether.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tether.core.paging import Page, PageRequest
from tether.credentials.models import R_CERT, CertificateStatus, TrustedCertificate, require_admin
from tether.credentials.store import TrustedCertificateStore
from tether.tenants.models import Principal

DistinguishedName = tuple[tuple[tuple[str, str], ...], ...]

_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
# Short names as X.500 / Java print them (Cumulocity shows `CN=..., OU=..., O=..., C=...`).
_SHORT = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
    "emailAddress": "EMAILADDRESS",
    "serialNumber": "SERIALNUMBER",
}


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    pem: str
    fingerprint: str
    subject: DistinguishedName
    issuer: DistinguishedName
    serial_number: str
    not_before: int
    not_after: int
    version: int


def _pem(text: str) -> str:
    """Full PEM, or the bare base64 body Cumulocity clients often send, to one PEM block."""
    text = text.strip()
    if _BEGIN in text:
        return text + "\n"
    body = "".join(text.split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("'certInPemFormat' is not a PEM certificate", resource=R_CERT) from None
    return ssl.DER_cert_to_PEM_cert(der)


def parse_certificate(text: str) -> ParsedCertificate:
    """One X.509 CA certificate in PEM (or bare base64); InvalidInput (422) for anything else."""
    pem = _pem(text)
    if pem.count(_BEGIN) != 1:
        raise InvalidInput("Upload one certificate at a time", resource=R_CERT)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise InvalidInput("'certInPemFormat' is not a valid X.509 certificate", resource=R_CERT) from None
    infos = context.get_ca_certs()
    ders = context.get_ca_certs(binary_form=True)
    if len(infos) != 1 or len(ders) != 1:
        raise InvalidInput(
            "The certificate is not a CA certificate (basicConstraints CA:TRUE)", resource=R_CERT
        )
    info = infos[0]
    der = ders[0]
    return ParsedCertificate(
        pem=ssl.DER_cert_to_PEM_cert(der),
        fingerprint=hashlib.sha1(der).hexdigest(),  # Cumulocity's certificate id (not a security use)
        subject=normalize_dn(info["subject"]),
        issuer=normalize_dn(info["issuer"]),
        serial_number=str(info.get("serialNumber", "")),
        not_before=int(ssl.cert_time_to_seconds(str(info["notBefore"])) * 1000),
        not_after=int(ssl.cert_time_to_seconds(str(info["notAfter"])) * 1000),
        version=int(str(info.get("version", 3))),
    )


def normalize_dn(raw: object) -> DistinguishedName:
    """A subject or issuer as ``getpeercert()`` gives it, as nested tuples (hashable, comparable)."""
    if not isinstance(raw, tuple | list):
        return ()
    return tuple(tuple((str(k), str(v)) for k, v in rdn) for rdn in raw)


def format_dn(dn: DistinguishedName) -> str:
    """`CN=Acme CA, O=Acme, C=DE`: most specific first, as Cumulocity shows subject and issuer."""
    return ", ".join("+".join(f"{_SHORT.get(k, k)}={v}" for k, v in rdn) for rdn in reversed(dn))


def common_name(dn: DistinguishedName) -> str | None:
    """The last (most specific) commonName of a distinguished name."""
    found = None
    for rdn in dn:
        for key, value in rdn:
            if key == "commonName":
                found = value
    return found


def pem_body(pem: str) -> str:
    """The base64 lines of a PEM block, as Cumulocity renders `certInPemFormat`."""
    return "\n".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


class TrustedCertificateService:
    def __init__(self, store: TrustedCertificateStore) -> None:
        self._store = store
        # subject DN -> the certificates of that subject (one tenant's), for the TLS login's issuer lookup
        self._by_subject: dict[DistinguishedName, list[TrustedCertificate]] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._loaded = False
        #: Told the tenant whose certificates changed here (another node reloads: cluster/invalidation.py).
        self.changed: Callable[[str], None] = lambda tenant_id: None

    async def load(self) -> list[TrustedCertificate]:
        """Read every tenant's certificates (at start); returns them, e.g. to build the TLS context."""
        certificates = await self._store.all()
        self._by_subject = {}
        for cert in certificates:
            self._by_subject.setdefault(cert.subject, []).append(cert)
        self._loaded = True
        return certificates

    async def reload(self) -> None:
        """Read every certificate again (another node changed them); the listeners hear of the new ones."""
        known = {c.fingerprint for certs in self._by_subject.values() for c in certs}
        for cert in await self.load():
            if cert.fingerprint not in known:
                for listener in self._listeners:
                    listener(cert.cert_pem)

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(pem)` for every certificate added from now on (the TLS listener trusts it)."""
        self._listeners.append(listener)

    def issuer(self, issuer: DistinguishedName) -> TrustedCertificate | None:
        """The ENABLED trusted CA whose subject is this issuer, if any (no storage access)."""
        for cert in self._by_subject.get(issuer, ()):
            if cert.enabled:
                return cert
        return None

    @staticmethod
    def _check(who: Principal, tenant_id: str) -> None:
        require_admin(who)
        if tenant_id != who.tenant_id:
            raise Forbidden("Access is denied", resource="security")

    async def create(
        self,
        who: Principal,
        tenant_id: str,
        *,
        name: str,
        pem: str,
        status: CertificateStatus = CertificateStatus.ENABLED,
        auto_registration: bool = False,
    ) -> TrustedCertificate:
        self._check(who, tenant_id)
        if not self._loaded:
            await self.load()
        parsed = parse_certificate(pem)
        others = [c for c in self._by_subject.get(parsed.subject, ()) if c.tenant_id != tenant_id]
        if others:
            # The issuer of a device certificate must name one tenant.
            raise Conflict(
                f"A CA certificate with subject '{format_dn(parsed.subject)}' is trusted by another tenant",
                resource=R_CERT,
            )
        cert = TrustedCertificate(
            tenant_id=tenant_id,
            fingerprint=parsed.fingerprint,
            name=name,
            cert_pem=parsed.pem,
            status=status,
            auto_registration=auto_registration,
            subject=parsed.subject,
            issuer=parsed.issuer,
            serial_number=parsed.serial_number,
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            version=parsed.version,
            created_at=now_ms(),
        )
        await self._store.create(cert)
        self._by_subject.setdefault(cert.subject, []).append(cert)
        for listener in self._listeners:
            listener(cert.cert_pem)
        self.changed(tenant_id)
        return cert

    async def list_certificates(
        self, who: Principal, tenant_id: str, page: PageRequest
    ) -> Page[TrustedCertificate]:
        self._check(who, tenant_id)
        return await self._store.find(tenant_id, page)

    async def get(self, who: Principal, tenant_id: str, fingerprint: str) -> TrustedCertificate:
        self._check(who, tenant_id)
        cert = await self._store.get(tenant_id, fingerprint.lower())
        if cert is None:
            raise NotFound(f"Certificate with fingerprint {fingerprint} not found", resource=R_CERT)
        return cert

    async def update(
        self,
        who: Principal,
        tenant_id: str,
        fingerprint: str,
        *,
        name: str | None = None,
        status: CertificateStatus | None = None,
        auto_registration: bool | None = None,
    ) -> TrustedCertificate:
        cert = await self.get(who, tenant_id, fingerprint)
        changed = TrustedCertificate(
            tenant_id=cert.tenant_id,
            fingerprint=cert.fingerprint,
            name=cert.name if name is None else name,
            cert_pem=cert.cert_pem,
            status=cert.status if status is None else status,
            auto_registration=cert.auto_registration if auto_registration is None else auto_registration,
            subject=cert.subject,
            issuer=cert.issuer,
            serial_number=cert.serial_number,
            not_before=cert.not_before,
            not_after=cert.not_after,
            version=cert.version,
            created_at=cert.created_at,
        )
        if not await self._store.replace(changed):
            raise NotFound(f"Certificate with fingerprint {fingerprint} not found", resource=R_CERT)
        self._index_replace(cert.fingerprint, changed)
        self.changed(tenant_id)
        return changed

    async def delete(self, who: Principal, tenant_id: str, fingerprint: str) -> None:
        """Devices of a deleted (or disabled) CA still pass the TLS handshake until the listener restarts, but
        the login checks the CA's status and refuses them."""
        cert = await self.get(who, tenant_id, fingerprint)
        if not await self._store.delete(tenant_id, cert.fingerprint):
            raise NotFound(f"Certificate with fingerprint {fingerprint} not found", resource=R_CERT)
        self._index_replace(cert.fingerprint, None)
        self.changed(tenant_id)

    def _index_replace(self, fingerprint: str, cert: TrustedCertificate | None) -> None:
        for subject, certs in list(self._by_subject.items()):
            kept = [c for c in certs if c.fingerprint != fingerprint]
            if cert is not None and len(kept) != len(certs):
                kept.append(cert)
            if kept:
                self._by_subject[subject] = kept
            else:
                del self._by_subject[subject]
