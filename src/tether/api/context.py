"""What every router may use: the settings and the services, attached to the app as `app.state.ctx`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from tether.config import Settings
from tether.credentials.api_keys import ApiKeyService
from tether.credentials.authorization import AclService
from tether.credentials.certificates import TrustedCertificateService
from tether.credentials.mqtt_users import MqttUserService
from tether.health import Readiness
from tether.identity.service import IdentityService
from tether.inventory.service import InventoryService
from tether.operations.service import OperationService
from tether.registration.retirement import DeviceRetirement
from tether.registration.service import RegistrationService
from tether.registration.xyte import XyteService
from tether.telemetry.alarms import AlarmService
from tether.telemetry.events import EventService
from tether.telemetry.measurements import MeasurementService
from tether.tenants.service import TenantService
from tether.tenants.throttle import Throttle


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    tenants: TenantService
    inventory: InventoryService
    identity: IdentityService
    readiness: Readiness
    operations: OperationService
    registration: RegistrationService
    retirement: DeviceRetirement
    measurements: MeasurementService
    device_events: EventService  # /event/events (not the domain EventBus)
    alarms: AlarmService
    xyte: XyteService
    api_keys: ApiKeyService
    mqtt_users: MqttUserService
    acl: AclService
    certificates: TrustedCertificateService
    throttle: Throttle  # failed logins, shared with MQTT


def ctx(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.ctx
    return context
