"""The storage interfaces the domain depends on. Implementations live in storage/sql (SQLite, PostgreSQL).

Every method takes the tenant id first: no store answers across tenants.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tether.broker.storage import BrokerStore
from tether.core.paging import Page, PageRequest
from tether.credentials.models import ApiKey, MqttUser, RuleScope, RuleSet, TrustedCertificate
from tether.identity.models import ExternalId
from tether.inventory.models import (
    ChildKind,
    InventoryCriteria,
    Json,
    ManagedObject,
    NewManagedObject,
    Relations,
)
from tether.operations.models import NewOperation, Operation, OperationChange, OperationCriteria
from tether.registration.models import DeviceRequest, RequestStatus
from tether.registration.xyte_models import DeviceModel, XyteDevice
from tether.telemetry.models import (
    Alarm,
    AlarmChange,
    AlarmCriteria,
    AlarmStatus,
    Event,
    EventCriteria,
    Measurement,
    MeasurementCriteria,
    MeasurementRow,
    NewAlarm,
    NewEvent,
    NewMeasurement,
    SeriesQuery,
)
from tether.tenants.models import Tenant, User


class TenantStore(Protocol):
    async def get(self, tenant_id: str) -> Tenant | None: ...
    async def create(self, tenant: Tenant) -> None: ...


class StorageUnavailable(RuntimeError):
    """The database cannot be reached, refuses the login or cannot be migrated; the message is one line
    for the operator (the URL is the caller's to add, without its password)."""


class UserStore(Protocol):
    async def get(self, tenant_id: str, username: str) -> User | None: ...
    async def create(self, user: User) -> None: ...
    async def set_password(self, tenant_id: str, username: str, password_hash: str, changed: int) -> bool:
        """Store a new hash and when it changed (ms); False if there is no such user."""
        ...

    async def last_password_change(self) -> int:
        """The latest `changed` of any user (0: none)."""
        ...

    async def password_changes(self, since: int) -> list[tuple[str, str, int]]:
        """(tenant id, user name, changed) of every user whose password changed after `since`."""
        ...

    async def delete(self, tenant_id: str, username: str) -> bool:
        """Whether the user existed (and is gone now)."""
        ...


class ManagedObjectStore(Protocol):
    async def create(self, tenant_id: str, draft: NewManagedObject, now: int) -> ManagedObject: ...
    async def get(self, tenant_id: str, mo_id: int) -> ManagedObject | None: ...
    async def update(
        self, tenant_id: str, mo_id: int, columns: dict[str, Any], fragments: Json, now: int
    ) -> ManagedObject | None:
        """Merge: columns and fragments given replace the stored ones; a None value removes a fragment."""
        ...

    async def delete(self, tenant_id: str, mo_ids: list[int]) -> int: ...
    async def find(
        self,
        tenant_id: str,
        criteria: InventoryCriteria,
        page: PageRequest,
        *,
        owner_scope: str | None = None,
    ) -> Page[ManagedObject]: ...
    async def relations(self, tenant_id: str, mo_ids: list[int]) -> dict[int, Relations]: ...
    async def child_ids(
        self, tenant_id: str, parent_ids: list[int], kinds: Iterable[ChildKind]
    ) -> list[int]: ...
    async def parent_ids(
        self, tenant_id: str, child_ids: list[int], kinds: Iterable[ChildKind]
    ) -> list[int]: ...
    async def children(
        self, tenant_id: str, parent_id: int, kind: ChildKind, page: PageRequest
    ) -> Page[ManagedObject]: ...
    async def add_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> None: ...
    async def remove_child(
        self, tenant_id: str, parent_id: int, kind: ChildKind, child_id: int, now: int
    ) -> bool: ...


class ExternalIdStore(Protocol):
    async def create(self, tenant_id: str, xid: ExternalId) -> None:
        """Raises Conflict when (type, value) is already taken in the tenant."""
        ...

    async def get(self, tenant_id: str, type_: str, value: str) -> ExternalId | None: ...
    async def list_for(self, tenant_id: str, mo_id: int, page: PageRequest) -> Page[ExternalId]: ...
    async def delete(self, tenant_id: str, type_: str, value: str) -> bool: ...


class OperationStore(Protocol):
    async def create(self, tenant_id: str, draft: NewOperation, now: int) -> Operation: ...
    async def get(self, tenant_id: str, op_id: int) -> Operation | None: ...
    async def update(self, tenant_id: str, op_id: int, change: OperationChange, now: int) -> Operation | None:
        """Apply `change` only if the operation is still in `change.expected_status` (compare-and-set,
        atomic with the write); None when it is missing or its status moved on meanwhile."""
        ...

    async def find(
        self,
        tenant_id: str,
        criteria: OperationCriteria,
        page: PageRequest,
        *,
        owner_scope: str | None = None,
    ) -> Page[Operation]:
        """Ordered by id (newest first with `criteria.newest_first`); with `owner_scope` only the
        operations whose device or agent that user owns."""
        ...

    async def delete(self, tenant_id: str, criteria: OperationCriteria) -> list[Operation]:
        """Delete every matching operation; returns them as they were."""
        ...


class DeviceRequestStore(Protocol):
    """New-device requests. Their ids are unique across tenants: the bootstrap user, who belongs to no
    device tenant, finds a request by id alone (`lookup`, `advance`, `claim`)."""

    async def create(self, request: DeviceRequest) -> None:
        """Raises Conflict when the id is already requested (in any tenant)."""
        ...

    async def get(self, tenant_id: str, request_id: str) -> DeviceRequest | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[DeviceRequest]: ...
    async def delete(self, tenant_id: str, request_id: str) -> bool: ...
    async def lookup(self, request_id: str) -> DeviceRequest | None: ...
    async def advance(
        self, request_id: str, expected: RequestStatus, status: RequestStatus, now: int
    ) -> DeviceRequest | None:
        """Set `status` only if the request is in `expected` (compare-and-set); None otherwise."""
        ...

    async def claim(self, request_id: str) -> DeviceRequest | None:
        """Remove the request if it is ACCEPTED and return it; of concurrent callers exactly one wins."""
        ...


class MeasurementStore(Protocol):
    """Measurements; `owner_scope` limits a query to the sources that user owns."""

    async def create(self, tenant_id: str, drafts: list[NewMeasurement], now: int) -> list[Measurement]:
        """All in one write transaction (multi-row INSERTs); returned in the order of `drafts`."""
        ...

    async def create_many(self, rows: Sequence[MeasurementRow], now: int) -> list[int]:
        """(tenant id, source id, type, time, fragments) rows of any tenants and sources in one write
        transaction, straight through the driver (adapters' ingest batches); their ids in the order of
        `rows`. Raises NotFound, storing nothing, when a source no longer exists."""
        ...

    async def get(self, tenant_id: str, measurement_id: int) -> Measurement | None: ...
    async def find(
        self,
        tenant_id: str,
        criteria: MeasurementCriteria,
        page: PageRequest,
        *,
        owner_scope: str | None = None,
    ) -> Page[Measurement]: ...
    async def delete(self, tenant_id: str, measurement_id: int) -> bool: ...
    async def delete_matching(
        self, tenant_id: str, criteria: MeasurementCriteria, *, owner_scope: str | None = None
    ) -> list[Measurement]:
        """Delete every matching measurement; returns them as they were."""
        ...

    async def series(self, tenant_id: str, query: SeriesQuery, limit: int) -> list[Measurement]:
        """The source's measurements in [date_from, date_to) holding any of the query's series (any
        measurement when it names none), in the query's time order, at most `limit`."""
        ...


class EventStore(Protocol):
    async def create(self, tenant_id: str, draft: NewEvent, now: int) -> Event: ...
    async def get(self, tenant_id: str, event_id: int) -> Event | None: ...
    async def find(
        self, tenant_id: str, criteria: EventCriteria, page: PageRequest, *, owner_scope: str | None = None
    ) -> Page[Event]: ...
    async def update(
        self, tenant_id: str, event_id: int, text: str | None, fragments: Json, now: int
    ) -> Event | None:
        """Merge: the text (if given) and the fragments replace the stored ones; None removes a fragment."""
        ...

    async def delete(self, tenant_id: str, event_id: int) -> bool: ...
    async def delete_matching(
        self, tenant_id: str, criteria: EventCriteria, *, owner_scope: str | None = None
    ) -> list[Event]: ...


class AlarmStore(Protocol):
    async def raise_alarm(self, tenant_id: str, draft: NewAlarm, now: int) -> tuple[Alarm, bool]:
        """Insert, or, when an open alarm of the same source and type exists, increment its count and
        move its time (text and fragments updated) instead; atomic under concurrent raises.
        Returns the alarm and whether it is new."""
        ...

    async def get(self, tenant_id: str, alarm_id: int) -> Alarm | None: ...
    async def find(
        self, tenant_id: str, criteria: AlarmCriteria, page: PageRequest, *, owner_scope: str | None = None
    ) -> Page[Alarm]: ...
    async def count(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: str | None = None
    ) -> int: ...
    async def update(self, tenant_id: str, alarm_id: int, change: AlarmChange, now: int) -> Alarm | None:
        """Raises Conflict when the change would make a second open alarm of one source and type."""
        ...

    async def update_matching(
        self,
        tenant_id: str,
        criteria: AlarmCriteria,
        status: AlarmStatus,
        now: int,
        *,
        owner_scope: str | None = None,
    ) -> list[Alarm]:
        """Set the status of every matching alarm; returns those whose status changed."""
        ...

    async def delete_matching(
        self, tenant_id: str, criteria: AlarmCriteria, *, owner_scope: str | None = None
    ) -> list[Alarm]: ...


class XyteStore(Protocol):
    """Xyte device models and registered devices. Hardware keys and device ids are unique platform-wide:
    registration and device authentication find them without a tenant."""

    async def create_model(self, model: DeviceModel) -> None:
        """Raises Conflict when the tenant has a model of that name."""
        ...

    async def get_model(self, tenant_id: str, model_id: str) -> DeviceModel | None: ...
    async def list_models(self, tenant_id: str) -> list[DeviceModel]: ...
    async def rename_model(
        self, tenant_id: str, model_id: str, name: str, now: int
    ) -> DeviceModel | None: ...
    async def model_by_hardware_key(self, hardware_key: str) -> DeviceModel | None: ...
    async def find_duplicate(
        self, tenant_id: str, model_id: str, sn: str, mac: str | None, cloud_id: str | None
    ) -> str | None:
        """What an already registered device shares with these (model and sn, MAC or cloud id), or None."""
        ...

    async def create_device(self, device: XyteDevice) -> None:
        """Raises Conflict when the device is registered already (a unique constraint decides)."""
        ...

    async def get_device(self, device_id: str) -> XyteDevice | None: ...
    async def device_for_object(self, tenant_id: str, mo_id: int) -> XyteDevice | None: ...


class ApiKeyStore(Protocol):
    """API keys; `name` is unique per tenant, `api_key` platform-wide."""

    async def create(self, key: ApiKey) -> None:
        """Raises Conflict when the tenant has a key of that name."""
        ...

    async def get(self, tenant_id: str, name: str) -> ApiKey | None: ...
    async def by_key(self, api_key: str) -> ApiKey | None: ...
    async def list(self, tenant_id: str) -> list[ApiKey]: ...
    async def replace(self, key: ApiKey) -> bool:
        """Store the key's enable, expired_at and desc; False when it no longer exists."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...


class MqttUserStore(Protocol):
    async def create(self, user: MqttUser) -> None:
        """Raises Conflict when the tenant has a user of that id."""
        ...

    async def get(self, tenant_id: str, user_id: str) -> MqttUser | None: ...
    async def find(
        self, tenant_id: str, page: PageRequest, *, like: str | None = None, is_superuser: bool | None = None
    ) -> Page[MqttUser]:
        """Ordered by user id; `like` keeps the ids containing it."""
        ...

    async def replace(self, user: MqttUser) -> bool:
        """Store the user's password hash and superuser flag; False when it no longer exists."""
        ...

    async def delete(self, tenant_id: str, user_id: str) -> bool: ...


class AclRuleStore(Protocol):
    """Authorization rule sets, one per (tenant, scope, who); `who` is "" for the scope `all`."""

    async def get(self, tenant_id: str, scope: RuleScope, who: str) -> RuleSet | None: ...
    async def find(
        self, tenant_id: str, scope: RuleScope, page: PageRequest, *, like: str | None = None
    ) -> Page[RuleSet]: ...
    async def for_tenant(self, tenant_id: str) -> list[RuleSet]: ...
    async def create_many(self, rule_sets: list[RuleSet]) -> list[str]:
        """Insert all, or none when any exists already: then the `who` of those that exist."""
        ...

    async def put(self, rule_set: RuleSet) -> None:
        """Insert or replace."""
        ...

    async def delete(self, tenant_id: str, scope: RuleScope, who: str) -> bool: ...


class TrustedCertificateStore(Protocol):
    """Trusted CA certificates; the fingerprint is unique platform-wide."""

    async def create(self, certificate: TrustedCertificate) -> None:
        """Raises Conflict when the fingerprint is taken (in any tenant)."""
        ...

    async def get(self, tenant_id: str, fingerprint: str) -> TrustedCertificate | None: ...
    async def find(self, tenant_id: str, page: PageRequest) -> Page[TrustedCertificate]: ...
    async def all(self) -> list[TrustedCertificate]:
        """Every tenant's (the TLS listener trusts them all; the issuer tells the tenant)."""
        ...

    async def replace(self, certificate: TrustedCertificate) -> bool:
        """Store name, status and auto-registration; False when it no longer exists."""
        ...

    async def delete(self, tenant_id: str, fingerprint: str) -> bool: ...


class SmartRestTemplateStore(Protocol):
    """SmartREST 2.0 template collections: a document per (tenant, X-ID), created once."""

    async def create(self, tenant_id: str, xid: str, owner: str, templates: dict[str, Any], now: int) -> int:
        """The new collection's id; raises Conflict when the tenant has one of that X-ID."""
        ...

    async def get(self, tenant_id: str, xid: str) -> tuple[int, dict[str, Any]] | None: ...


class Storage(Protocol):
    """One database: its stores, opened (migrations applied) and closed together."""

    tenants: TenantStore
    users: UserStore
    managed_objects: ManagedObjectStore
    external_ids: ExternalIdStore
    operations: OperationStore
    device_requests: DeviceRequestStore
    measurements: MeasurementStore
    events: EventStore
    alarms: AlarmStore
    broker_state: BrokerStore
    xyte: XyteStore
    api_keys: ApiKeyStore
    mqtt_users: MqttUserStore
    acl_rules: AclRuleStore
    trusted_certificates: TrustedCertificateStore
    smartrest_templates: SmartRestTemplateStore

    async def open(self) -> None: ...
    async def close(self) -> None: ...
