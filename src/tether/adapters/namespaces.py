"""Where a tenant's devices live in the broker's topic space (see tether.broker.hooks.AuthResult.mountpoint).

Every authenticated device is mounted under its tenant, so the same topic in two tenants never crosses.
Cumulocity's MQTT topics (SmartREST s/, t/, q/, c/ and JSON via MQTT) are implicitly the connected
client's own (docs/protocols.md section 2): they are private to the client inside its tenant.
"""

from __future__ import annotations

__all__ = ["C8Y_PRIVATE_ROOTS", "tenant_mountpoint"]

#: First topic levels private to each client (SmartREST 2.0 and Cumulocity JSON via MQTT).
C8Y_PRIVATE_ROOTS = frozenset(
    {"s", "t", "q", "c", "event", "alarm", "measurement", "inventory", "error", "devicecontrol"}
)


_MOUNTPOINTS: dict[str, str] = {}


def tenant_mountpoint(tenant_id: str) -> str:
    """The broker mountpoint of a tenant. It starts with `$`, so an unmounted client's `#` never matches it
    (spec 4.7.2). One string per tenant, shared by all of its logins."""
    mountpoint = _MOUNTPOINTS.get(tenant_id)
    if mountpoint is None:
        if len(_MOUNTPOINTS) >= 10_000:
            _MOUNTPOINTS.clear()
        mountpoint = _MOUNTPOINTS[tenant_id] = f"$tenant/{tenant_id}/"
    return mountpoint
