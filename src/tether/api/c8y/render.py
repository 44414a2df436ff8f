"""Domain objects as Cumulocity JSON documents."""

from __future__ import annotations

from typing import Any

from tether.core.clock import to_iso
from tether.identity.models import ExternalId
from tether.inventory.models import ChildKind, ManagedObject, Relations

PARENT_KEYS = {
    ChildKind.DEVICE: "deviceParents",
    ChildKind.ASSET: "assetParents",
    ChildKind.ADDITION: "additionParents",
}


def mo_url(base: str, mo_id: int) -> str:
    return f"{base}/inventory/managedObjects/{mo_id}"


def managed_object(base: str, mo: ManagedObject, relations: Relations | None = None) -> dict[str, Any]:
    url = mo_url(base, mo.id)
    body: dict[str, Any] = {"id": str(mo.id), "self": url}
    if mo.name is not None:
        body["name"] = mo.name
    if mo.type is not None:
        body["type"] = mo.type
    body["owner"] = mo.owner
    body["creationTime"] = to_iso(mo.creation_time)
    body["lastUpdated"] = to_iso(mo.last_updated)
    body.update(mo.fragments)
    if relations is not None:
        for kind in ChildKind:
            refs = relations.children.get(kind, [])
            body[kind.value] = {
                "self": f"{url}/{kind.value}",
                "references": [reference(base, mo.id, kind, ref.id, ref.name) for ref in refs],
            }
        for kind, key in PARENT_KEYS.items():
            refs = relations.parents.get(kind, [])
            body[key] = {
                "self": f"{url}/{key}",
                "references": [
                    {
                        "managedObject": _stub(base, ref.id, ref.name),
                        "self": f"{mo_url(base, ref.id)}/{kind.value}/{mo.id}",
                    }
                    for ref in refs
                ],
            }
    return body


def _stub(base: str, mo_id: int, name: str | None) -> dict[str, Any]:
    stub: dict[str, Any] = {"id": str(mo_id), "self": mo_url(base, mo_id)}
    if name is not None:
        stub["name"] = name
    return stub


def reference(
    base: str,
    parent_id: int,
    kind: ChildKind,
    child_id: int,
    name: str | None,
    child: ManagedObject | None = None,
) -> dict[str, Any]:
    return {
        "managedObject": managed_object(base, child) if child is not None else _stub(base, child_id, name),
        "self": f"{mo_url(base, parent_id)}/{kind.value}/{child_id}",
    }


def external_id(base: str, xid: ExternalId) -> dict[str, Any]:
    from urllib.parse import quote

    return {
        "externalId": xid.value,
        "type": xid.type,
        "self": f"{base}/identity/externalIds/{quote(xid.type, safe='')}/{quote(xid.value, safe='')}",
        "managedObject": {"id": str(xid.mo_id), "self": mo_url(base, xid.mo_id)},
    }
