"""The fakes satisfy the store Protocols structurally: mypy checks the annotated assignments below
(`mypy tests/fakes tests/unit`), and the test checks at run time that each fake has every method of its
Protocol as a coroutine function."""

from __future__ import annotations

import inspect

import pytest
from tests.fakes.credentials import (
    FakeAclRuleStore,
    FakeApiKeyStore,
    FakeMqttUserStore,
    FakeTrustedCertificateStore,
)
from tests.fakes.fleets import FakeShadowStore
from tests.fakes.fleets_jobs import FakeJobStore
from tests.fakes.identity import FakeExternalIdStore
from tests.fakes.inventory import FakeManagedObjectStore
from tests.fakes.operations import FakeOperationStore
from tests.fakes.registration import FakeDeviceRequestStore, FakeXyteStore
from tests.fakes.rules import FakeConnectorStore, FakeRuleStore
from tests.fakes.smartrest import FakeSmartRestTemplateStore
from tests.fakes.telemetry import FakeAlarmStore, FakeEventStore, FakeMeasurementStore
from tests.fakes.tenants import FakeTenantStore, FakeUserStore

from tether.adapters.smartrest.store import SmartRestTemplateStore
from tether.credentials.store import AclRuleStore, ApiKeyStore, MqttUserStore, TrustedCertificateStore
from tether.fleets.job_store import JobStore
from tether.fleets.store import ShadowStore
from tether.identity.store import ExternalIdStore
from tether.inventory.store import ManagedObjectStore
from tether.operations.store import OperationStore
from tether.registration.store import DeviceRequestStore, XyteStore
from tether.rules.connector_store import ConnectorStore
from tether.rules.store import RuleStore
from tether.telemetry.store import AlarmStore, EventStore, MeasurementStore
from tether.tenants.store import TenantStore, UserStore

mos = FakeManagedObjectStore()
tenant_store: TenantStore = FakeTenantStore()
user_store: UserStore = FakeUserStore()
managed_object_store: ManagedObjectStore = mos
external_id_store: ExternalIdStore = FakeExternalIdStore(mos)
operation_store: OperationStore = FakeOperationStore(mos)
device_request_store: DeviceRequestStore = FakeDeviceRequestStore()
xyte_store: XyteStore = FakeXyteStore(mos)
api_key_store: ApiKeyStore = FakeApiKeyStore()
mqtt_user_store: MqttUserStore = FakeMqttUserStore()
acl_rule_store: AclRuleStore = FakeAclRuleStore()
certificate_store: TrustedCertificateStore = FakeTrustedCertificateStore()
template_store: SmartRestTemplateStore = FakeSmartRestTemplateStore()
measurement_store: MeasurementStore = FakeMeasurementStore(mos)
event_store: EventStore = FakeEventStore(mos)
alarm_store: AlarmStore = FakeAlarmStore(mos)
shadow_store: ShadowStore = FakeShadowStore()
job_store: JobStore = FakeJobStore()
rule_store: RuleStore = FakeRuleStore()
connector_store: ConnectorStore = FakeConnectorStore()

PAIRS: list[tuple[type, object]] = [
    (JobStore, job_store),
    (TenantStore, tenant_store),
    (UserStore, user_store),
    (ManagedObjectStore, managed_object_store),
    (ExternalIdStore, external_id_store),
    (OperationStore, operation_store),
    (DeviceRequestStore, device_request_store),
    (XyteStore, xyte_store),
    (ApiKeyStore, api_key_store),
    (MqttUserStore, mqtt_user_store),
    (AclRuleStore, acl_rule_store),
    (TrustedCertificateStore, certificate_store),
    (SmartRestTemplateStore, template_store),
    (MeasurementStore, measurement_store),
    (EventStore, event_store),
    (AlarmStore, alarm_store),
    (ShadowStore, shadow_store),
    (RuleStore, rule_store),
    (ConnectorStore, connector_store),
]


@pytest.mark.parametrize(("protocol", "fake"), PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_fake_has_every_method_of_its_protocol(protocol: type, fake: object) -> None:
    methods = [name for name, value in vars(protocol).items() if inspect.iscoroutinefunction(value)]
    assert methods
    for name in methods:
        implementation = getattr(fake, name, None)
        assert inspect.iscoroutinefunction(implementation), f"{type(fake).__name__}.{name}"
        wanted = list(inspect.signature(getattr(protocol, name)).parameters)[1:]
        assert list(inspect.signature(implementation).parameters) == wanted, f"{type(fake).__name__}.{name}"
