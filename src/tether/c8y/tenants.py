"""Tenants, tenant options and usage statistics as Cumulocity's /tenant API shows them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tether.core.clock import to_iso
from tether.tenants.models import Tenant
from tether.tenants.options import Option
from tether.tenants.statistics import Usage

Json = dict[str, Any]


def tenant_url(base: str, tenant_id: str) -> str:
    return f"{base}/tenant/tenants/{quote(tenant_id, safe='')}"


def tenant(base: str, t: Tenant) -> Json:
    url = tenant_url(base, t.id)
    body: Json = {
        "id": t.id,
        "self": url,
        "domain": t.domain,
        "status": t.status.value,
        "creationTime": to_iso(t.creation_time),
        "allowCreateTenants": False,
        "customProperties": {},
        "applications": {"self": f"{url}/applications", "references": []},
        "ownedApplications": {"self": f"{url}/applications", "references": []},
    }
    for key, value in (
        ("company", t.company),
        ("contactName", t.contact_name),
        ("contactPhone", t.contact_phone),
        ("adminName", t.admin_name),
        ("adminEmail", t.admin_email),
        ("parent", t.parent),
    ):
        if value is not None:
            body[key] = value
    return body


def option_url(base: str, category: str, key: str) -> str:
    return f"{base}/tenant/options/{quote(category, safe='')}/{quote(key, safe='')}"


def option(base: str, o: Option) -> Json:
    return {
        "category": o.category,
        "key": o.key,
        "value": o.value,
        "self": option_url(base, o.category, o.key),
    }


def category(options: list[Option]) -> Json:
    """`GET /tenant/options/{category}`: the category's keys and values (CategoryOptions)."""
    return {o.key: o.value for o in options}


def usage_summary(u: Usage) -> Json:
    s = u.stored
    return {
        "day": to_iso(u.date_from),
        "deviceCount": s.device_count,
        "deviceWithChildrenCount": s.devices_with_children,
        "deviceEndpointCount": s.device_count - s.devices_with_children,
        "inventoriesCreatedCount": s.inventories_created,
        "measurementsCreatedCount": s.measurements_created,
        "eventsCreatedCount": s.events_created,
        "alarmsCreatedCount": s.alarms_created,
        "totalResourceCreateAndUpdateCount": (
            s.inventories_created + s.measurements_created + s.events_created + s.alarms_created
        ),
        "storageSize": s.storage_size,
        "requestCount": u.requests,
        "deviceRequestCount": u.device_requests,
        "subscribedApplications": [],
        "resources": {"cpu": 0, "memory": 0, "usedBy": []},
    }
