"""Services over the in-memory fakes (tests/fakes): no server, no database, no broker.

Objects are put into the fake inventory store directly (`World.add_object`), not through InventoryService, so
that these tests depend only on the services they are about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from tests.fakes.credentials import (
    FakeAclRuleStore,
    FakeApiKeyStore,
    FakeMqttUserStore,
    FakeTrustedCertificateStore,
)
from tests.fakes.identity import FakeExternalIdStore
from tests.fakes.inventory import FakeManagedObjectStore
from tests.fakes.operations import FakeOperationStore
from tests.fakes.registration import FakeDeviceRequestStore, FakeXyteStore
from tests.fakes.tenants import FakeTenantStore, FakeUserStore

from tether.core.events import DomainEvent, EventBus
from tether.identity.service import IdentityService
from tether.inventory.models import ChildKind, Json, ManagedObject, NewManagedObject
from tether.inventory.service import InventoryService
from tether.operations.service import OperationService
from tether.registration.retirement import DeviceRetirement
from tether.registration.service import RegistrationService
from tether.registration.xyte import XyteService
from tether.tenants import passwords
from tether.tenants.models import Principal, Role
from tether.tenants.service import TenantService

ADMIN = Principal("t1", "admin", frozenset({Role.ADMIN}))
OTHER_ADMIN = Principal("t2", "admin", frozenset({Role.ADMIN}))
BOOTSTRAP = Principal("management", "devicebootstrap", frozenset({Role.BOOTSTRAP}))


def device_user(name: str, tenant_id: str = "t1") -> Principal:
    return Principal(tenant_id, name, frozenset({Role.DEVICE}))


@dataclass
class World:
    """Every domain service over fresh fakes, and what they announced."""

    events: EventBus = field(default_factory=EventBus)
    announced: list[DomainEvent] = field(default_factory=list)
    tenant_store: FakeTenantStore = field(default_factory=FakeTenantStore)
    user_store: FakeUserStore = field(default_factory=FakeUserStore)
    mos: FakeManagedObjectStore = field(default_factory=FakeManagedObjectStore)
    requests: FakeDeviceRequestStore = field(default_factory=FakeDeviceRequestStore)

    def __post_init__(self) -> None:
        self.events.subscribe(self.announced.append)
        self.xids = FakeExternalIdStore(self.mos)
        self.ops = FakeOperationStore(self.mos)
        self.xyte_store = FakeXyteStore(self.mos)
        self.api_key_store = FakeApiKeyStore()
        self.mqtt_user_store = FakeMqttUserStore()
        self.acl_store = FakeAclRuleStore()
        self.certificate_store = FakeTrustedCertificateStore()
        self.tenants = TenantService(self.tenant_store, self.user_store, self.events)
        self.inventory = InventoryService(self.mos, self.events)
        self.identity = IdentityService(self.xids, self.inventory)
        self.operations = OperationService(self.ops, self.mos, self.events)
        self.registration = RegistrationService(self.requests, self.tenants)
        self.retirement = DeviceRetirement(self.inventory, self.tenants)
        self.xyte = XyteService(self.xyte_store, self.inventory, self.identity, self.operations, self.events)
        self._clock = 1_000

    async def add_object(
        self,
        owner: str = "admin",
        name: str | None = None,
        fragments: Json | None = None,
        *,
        tenant_id: str = "t1",
        parent: ManagedObject | None = None,
    ) -> ManagedObject:
        """An object straight into the store; with `parent`, as that object's child device."""
        self._clock += 1
        draft = NewManagedObject(owner=owner, name=name, type=None, fragments=fragments or {})
        mo = await self.mos.create(tenant_id, draft, self._clock)
        if parent is not None:
            await self.mos.add_child(tenant_id, parent.id, ChildKind.DEVICE, mo.id, self._clock)
        return mo

    def announced_as(self, resource: str) -> list[tuple[str, int | None]]:
        return [(e.action, e.id) for e in self.announced if e.resource == resource]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the lowest costs: the same hashes and checks, in microseconds rather than a good part
    of a second each (the production parameters are the library's defaults, exercised by every end-to-end
    test)."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
