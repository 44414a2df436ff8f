"""Client certificates on the MQTT TLS listener: the listener asks every client for a certificate (optional,
so password logins keep working) and verifies it against the CA certificates the tenants trust
(:mod:`tether.credentials.certificates`). The platform hook then logs the device in (adapters/access.py).

The broker's `tls_context` builds the server context from `[tls]`; wire it as::

    context = tls_context(config.tls)
    await install_trusted_cas(context, platform.services.certificates)   # before serving

`SSLContext.load_verify_locations(cadata=...)` on the live context applies to every later handshake, so a
CA a tenant uploads is trusted at once. A CA cannot be removed from a live context: a deleted or disabled
CA's devices still complete the handshake until the next start, and the login refuses them (0x87).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable

from tether.credentials.certificates import TrustedCertificateService

__all__ = ["install_trusted_cas", "trusted_ca_context"]

log = logging.getLogger("tether.access")


def _trust(context: ssl.SSLContext, pem: str) -> None:
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:  # parsed once already when it was uploaded
        log.error("cannot trust a stored CA certificate: %s", exc)


def trusted_ca_context(context: ssl.SSLContext, cas: Iterable[str]) -> ssl.SSLContext:
    """Make a server context request a client certificate (unless `[tls] cafile` already requires one) and
    trust the given CA certificates (PEM) for it; returns the same context."""
    if context.verify_mode == ssl.CERT_NONE:
        context.verify_mode = ssl.CERT_OPTIONAL
    for pem in cas:
        _trust(context, pem)
    return context


async def install_trusted_cas(
    context: ssl.SSLContext, certificates: TrustedCertificateService
) -> ssl.SSLContext:
    """Trust every tenant's stored CAs now, and each one uploaded later as soon as it is stored."""
    stored = await certificates.load()
    trusted_ca_context(context, (cert.cert_pem for cert in stored))
    certificates.add_listener(lambda pem: _trust(context, pem))
    return context
